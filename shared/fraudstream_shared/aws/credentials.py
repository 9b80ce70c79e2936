"""The AWS credentials of the process, from botocore's default chain.

On ECS that chain ends at the task role (the container credentials endpoint);
locally it reads ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile or
SSO. Resolving may do blocking HTTP, so call it off the event loop or at start-up.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError

from fraudstream_shared.exceptions import ConfigError

NO_CREDENTIALS_HELP = (
    "no AWS credentials found: on ECS give the task a task role; elsewhere set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE"
)


class NoAwsCredentialsError(ConfigError):
    """botocore's default chain found no usable credentials."""


def load_credentials() -> Any:
    """The process's ``botocore.credentials.Credentials``; raises :class:`NoAwsCredentialsError`.

    Task-role credentials come back refreshable: botocore renews them before
    they expire, so the object may be kept for the life of the process.
    """
    try:
        credentials = botocore.session.Session().get_credentials()
    except BotoCoreError as exc:  # e.g. a half-set pair of variables, an unreadable profile
        raise NoAwsCredentialsError(f"{NO_CREDENTIALS_HELP} ({exc})") from exc
    if credentials is None:
        raise NoAwsCredentialsError(NO_CREDENTIALS_HELP)
    return credentials
