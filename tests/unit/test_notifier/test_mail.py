"""The alert e-mail: the rendered bytes are the standard library's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.alerts import ALERT_SUBJECT, Alert, format_alert
from notifier.mail import AlertMail, build_email, message_id, stable_id
from tests.unit.test_notifier.decisions import decision

NOW = datetime(2026, 11, 27, 5, 11, 36, 250_000, tzinfo=UTC)
SENDER = "fraudstream@localhost"
RECIPIENTS = ["fraud-team@localhost"]


def standard(alert: Alert, sender: str = SENDER, recipients: list[str] | None = None,
             cte_type: str = "8bit") -> bytes:
    """What aiosmtplib's ``send_message`` sends for :func:`build_email`'s message."""
    return flatten_message(build_email(alert, sender, recipients or RECIPIENTS, NOW),
                           cte_type=cte_type)


def alert(body: str, event_id: str = "ev-1") -> Alert:
    return Alert(subject=ALERT_SUBJECT, body=body, event_id=event_id)


def test_email_headers_and_body() -> None:
    made = format_alert(decision(event_id="ev-mail"))
    message = build_email(made, "fraud@bank.test", ["a@bank.test", "b@bank.test"])
    assert message["Subject"] == made.subject
    assert message["To"] == "a@bank.test, b@bank.test"
    assert message["Message-ID"] == f"<{stable_id('ev-mail')}@fraudstream.alert>"
    assert message_id("ev-mail") == message["Message-ID"]
    assert message.get_content() == made.body


@pytest.mark.parametrize("event_id", ["ev-1", "5f0c6c1e-9a4b-4f55-8d1e-2a3b4c5d6e7f", "x" * 54])
@pytest.mark.parametrize("outcome", ["block", "review"])
def test_the_notifiers_alerts_are_rendered_as_the_standard_library_writes_them(
    event_id: str, outcome: str,
) -> None:
    made = format_alert(decision(outcome, event_id=event_id))
    rendered = AlertMail(SENDER, RECIPIENTS, ALERT_SUBJECT).render(made, NOW)
    assert rendered is not None, "a typical alert takes the fast path"
    assert rendered == standard(made)
    # An ASCII message is the same whether or not the server speaks 8BITMIME.
    assert rendered == standard(made, cte_type="7bit")


@pytest.mark.parametrize(
    ("sender", "recipients"),
    [
        ("Fraud Desk <fraud@bank.test>", ["a@bank.test", "B Team <b@bank.test>"]),
        ("Équipe fraude <fraude@banque.test>", ["soc@banque.test"]),  # encoded display name
    ],
)
def test_display_names_are_written_as_the_standard_library_writes_them(
    sender: str, recipients: list[str],
) -> None:
    made = format_alert(decision(event_id="ev-names"))
    mail = AlertMail(sender, recipients, ALERT_SUBJECT)
    assert mail.render(made, NOW) == standard(made, sender, recipients)
    # The envelope holds the bare addresses, as send_message would use.
    assert "<" not in mail.sender
    assert all("<" not in r for r in mail.recipients)
    assert len(mail.recipients) == len(recipients)


@pytest.mark.parametrize(
    ("body", "event_id"),
    [
        ("x" * 79 + "\n", "ev-1"),  # too long for 7bit: quoted-printable or base64
        ("Reasons:\n  - café\n", "ev-1"),  # non-ASCII text
        ("tab\there\n", "ev-1"),  # a control character
        ("carriage\rreturn\n", "ev-1"),
        ("no final newline", "ev-1"),
        ("", "ev-1"),
        ("fine\n", "x" * 55),  # the header would be folded
        ("fine\n", "has space"),
        ("fine\n", "événement"),
    ],
)
def test_what_the_fast_path_might_write_differently_goes_the_standard_way(
    body: str, event_id: str,
) -> None:
    assert AlertMail(SENDER, RECIPIENTS, ALERT_SUBJECT).render(alert(body, event_id), NOW) \
        is None


def test_non_ascii_addresses_and_other_subjects_go_the_standard_way() -> None:
    assert AlertMail("fraude@bänk.test", RECIPIENTS, ALERT_SUBJECT).render(
        alert("fine\n"), NOW) is None
    assert AlertMail(SENDER, RECIPIENTS, "Another subject").render(alert("fine\n"), NOW) is None


def test_edge_lines_the_fast_path_keeps() -> None:
    body = "From here on\n.leading dot\ntrailing spaces   \n\n" + "y" * 78 + "\n"
    made = alert(body)
    rendered = AlertMail(SENDER, RECIPIENTS, ALERT_SUBJECT).render(made, NOW)
    assert rendered is not None
    assert rendered == standard(made)
    parsed = message_from_bytes(rendered, policy=policy.default)
    content = parsed.get_body().get_content()  # type: ignore[union-attr]
    assert content.replace("\r\n", "\n") == body


_TEXT = st.text(alphabet=st.sampled_from(
    [*"abc XYZ019-_.:=()+,", "\n", "\t", "\r", "é", "€", "~", "\x7f", "\x00"]), max_size=200)


@settings(max_examples=300, deadline=None)
@given(body=_TEXT, event_id=st.text(alphabet=st.sampled_from([*"ab-_9.: é"]), min_size=1,
                                    max_size=70),
       long_line=st.integers(min_value=70, max_value=90))
def test_whenever_the_fast_path_renders_it_writes_the_standard_bytes(
    body: str, event_id: str, long_line: int,
) -> None:
    made = alert(body + "z" * long_line + "\n", event_id)
    rendered = AlertMail(SENDER, RECIPIENTS, ALERT_SUBJECT).render(made, NOW)
    if rendered is not None:
        assert rendered == standard(made)
