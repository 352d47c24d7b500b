"""Refusals of the accounts services, each with a stable code (docs/api.md and docs/protocol.md list them)."""

from core.errors import ParleyError


class PresenceInvalid(ParleyError):
    code = "presence_invalid"


class ContactInvalid(ParleyError):
    code = "contact_invalid"


class ApiTokenRefused(ParleyError):
    code = "api_token_refused"


class ProfileInvalid(ParleyError):
    code = "profile_invalid"


class PictureTooLarge(ParleyError):
    code = "file_too_large"
    http_status = 413


class SessionInvalid(ParleyError):
    code = "session_not_found"
    http_status = 404


class TwoFactorInvalid(ParleyError):
    code = "two_factor_invalid"


class SecondFactorOwed(ParleyError):
    """The session has not entered the person's current second factor, and the step needs it."""

    code = "two_factor_required"
    http_status = 403


class SuperuserOnly(ParleyError):
    code = "superuser_only"
    http_status = 403


class PushSubscriptionInvalid(ParleyError):
    code = "push_subscription_invalid"


class UnsubscribeLinkInvalid(ParleyError):
    code = "unsubscribe_link_invalid"


class LogoutTokenInvalid(ParleyError):
    """A back-channel Logout Token the identity provider's rules (OpenID Connect Back-Channel Logout 1.0) refuse;
    the code is the one that spec's answer uses."""

    code = "invalid_request"


class ProviderKeysUnavailable(ParleyError):
    """The identity provider's published keys could not be fetched, so its token cannot be checked now."""

    code = "temporarily_unavailable"
    http_status = 503
