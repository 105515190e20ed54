"""Refusals of the mail domain: each names the message or rule concerned."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class MailError(AvowalError):
    """A mail request that breaks a rule (an unknown purpose, a message that cannot be retried)."""

    status_code = 400
    error = "invalid_mail_request"


class UnknownMessage(MailError):
    status_code = 404
    error = "unknown_message"


class NotRetryable(MailError):
    """Only a finally failed message (which still holds its ciphertext) can be retried."""

    status_code = 409
    error = "message_not_retryable"


class UnsubscribeInvalid(MailError):
    """A forged or mangled unsubscribe link."""

    status_code = 404
    error = "unsubscribe_link_invalid"


class NewsNotAllowed(MailError):
    """News may only be sent for a communications or service-notification use the policy has."""

    error = "news_purpose_not_allowed"


class UnknownNewsKind(MailError):
    """News names a kind of message the policy does not declare (its ``communications``)."""

    status_code = 422
    error = "unknown_news_kind"


class NewsKindRequired(MailError):
    """News names a purpose, or nothing, where the policy declares the kinds of messages."""

    status_code = 422
    error = "news_kind_required"
