"""AWS authentication for the services: credentials, MSK IAM tokens for Kafka."""

from fraudstream_shared.aws.credentials import NoAwsCredentialsError, load_credentials
from fraudstream_shared.aws.msk import (
    MskIamAuthError,
    MskIamTokenProvider,
    refresh_deadline,
    shared_token_provider,
)

__all__ = [
    "MskIamAuthError",
    "MskIamTokenProvider",
    "NoAwsCredentialsError",
    "load_credentials",
    "refresh_deadline",
    "shared_token_provider",
]
