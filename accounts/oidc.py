"""OpenID Connect single sign-on (mozilla-django-oidc): the company's identity provider vouches for a person, and
Parley signs them into their account, made or updated through the directory's one door (accounts.directory).

mozilla-django-oidc runs the protocol: the authorization code flow with state, nonce and PKCE, the code exchanged
at the token endpoint with the client secret, the ID token's signature checked against the provider's published
keys. This module adds what Parley decides: that the token names our issuer and is meant for our client, which
claims make a person (`oidc_person_from_claims`), and which account they sign into (`oidc_account_for`):

1. the account already linked to this provider's `sub` (the stable id; a renamed person keeps their account);
2. else the account with the username the claim gives, which the provider takes over (how accounts made before
   single sign-on join it), unless it is linked to another `sub`, is a superuser or a break-glass account (those
   stay Parley's own: a provider account that happens to carry the name must not become them), or is kept by
   another directory (LDAP, SCIM: signed in as it is, that directory keeps its data);
3. else a new account.

A deactivated account is refused, never reactivated by signing in: IT's switch wins over the provider's word.

Signing out at the provider reaches Parley by OpenID Connect Back-Channel Logout 1.0: the provider POSTs a Logout
Token, `oidc_logout_token_verify` checks it as that spec says (with the ID token's keys, algorithm, issuer and
audience checks, through the backend below), and accounts.services.oidc_backchannel_logout ends the sessions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import jwt
import requests
from django.conf import settings
from django.core import checks
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.backends import is_break_glass
from accounts.directory import DirectoryPerson, directory_people_apply, role_mapping_parse, roles_for
from accounts.errors import LogoutTokenInvalid, ProviderKeysUnavailable
from accounts.models import DirectorySource, User
from accounts.user_import import ImportConflict
from core.errors import ParleyError

logger = logging.getLogger(__name__)


def oidc_role_values_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A system check (`manage.py check`, and before `migrate`): a role mapping that names no Parley role would
    otherwise only show when the first person tries to sign in."""
    try:
        role_mapping_parse(settings.PARLEY_OIDC_ROLE_VALUES)
    except ParleyError as error:
        return [checks.Error(f"PARLEY_OIDC_ROLE_VALUES: {error.message}", id="accounts.E001")]
    return []


class SignInRefused(ParleyError):
    """The provider vouched for someone Parley will not sign in (a switched-off account, a name taken)."""

    code = "sign_in_refused"
    http_status = 403


def claim_value(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into an object claim (Keycloak's "realm_access.roles")."""
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def oidc_person_from_claims(claims: dict[str, Any]) -> DirectoryPerson:
    """The person the provider's claims describe, with the roles PARLEY_OIDC_ROLE_VALUES maps their claim to."""
    subject = claims.get("sub")
    username = claim_value(claims, settings.PARLEY_OIDC_USERNAME_CLAIM)
    email = claims.get("email")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused("The company sign-in sent no subject (`sub`) for you; ask IT to check its set-up.")
    if not isinstance(username, str) or not username.strip():
        raise SignInRefused(
            f"The company sign-in sent no username ({settings.PARLEY_OIDC_USERNAME_CLAIM!r} claim) for you; "
            "ask IT to check its set-up."
        )
    if not isinstance(email, str) or not email:
        raise SignInRefused("The company sign-in sent no e-mail address for you; ask IT to check its set-up.")
    values = claim_value(claims, settings.PARLEY_OIDC_ROLES_CLAIM) or []
    if isinstance(values, str):
        values = [values]
    mapping = role_mapping_parse(settings.PARLEY_OIDC_ROLE_VALUES)
    return DirectoryPerson(
        username=username.strip(),
        directory_id=subject,
        email=email,
        display_name=str(claims.get("name") or ""),
        manager_directory_id=None,  # claims name no manager: IT's or another directory's choice stays
        roles=roles_for([str(value) for value in values if isinstance(value, str | int)], mapping),
    )


def oidc_account_for(*, person: DirectoryPerson) -> User:
    """The account `person` signs into, created or brought up to date from their claims (module docstring)."""
    user = User.objects.filter(directory_source=DirectorySource.OIDC, directory_id=person.directory_id).first()
    if user is None:
        user = User.objects.filter(username=person.username).first()
        if user is not None:
            _check_takeover(user)
            if user.directory_source and user.directory_source != DirectorySource.OIDC:
                _check_active(user)
                return user  # kept by LDAP or SCIM: that directory writes it, the provider only vouches
    if user is not None:
        _check_active(user)
        # The account keeps its username when the provider's changes (a marriage, a typo), and what the claims
        # do not carry (department, title, phone; a name when none is sent) stays as the CSV import or IT set it.
        person = replace(
            person,
            username=user.username,
            display_name=person.display_name or user.display_name,
            department=user.department,
            job_title=user.job_title,
            phone=user.phone,
        )
    try:
        report = directory_people_apply(people=[person], source=DirectorySource.OIDC)
    except (ImportConflict, IntegrityError):
        # The same person's first sign-in in two tabs at once: one made the account, this one lost the race.
        raise SignInRefused("Your account was being set up by another sign-in at that moment; sign in again.") from None
    if report.has_errors:
        problems = "; ".join(error for row in report.rows for error in row.errors)
        logger.warning("OIDC sign-in of %r refused by the directory checks: %s", person.username, problems)
        raise SignInRefused(f"Your account could not be set up from the company sign-in: {problems}.")
    return User.objects.get(username=person.username)


def _check_takeover(user: User) -> None:
    if user.directory_source == DirectorySource.OIDC:
        raise SignInRefused(
            f"The username {user.username!r} belongs to another company account in Parley; ask IT to sort it out."
        )
    if user.is_superuser or is_break_glass(user.username):
        raise SignInRefused(
            f"{user.username!r} is an administrator account kept by Parley; it signs in with its password only."
        )


def _check_active(user: User) -> None:
    if not user.is_active:
        raise SignInRefused("Your Parley account is switched off. Ask IT if you think that is a mistake.")


class ParleyOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with Parley's account rules (module docstring)."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, nonce: str | None = None, code_verifier: str | None = None
    ) -> User | None:
        # Only the callback's call (accounts.sign_in_views.oidc_callback) gets here: this signature has no
        # username or password, so Django skips the backend for a password sign-in. The library's own would try a
        # token exchange for any sign-in whose URL holds ?code=&state=, outside the callback's checks.
        if request is None or nonce is None:
            return None
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_user(self, user_id: Any) -> User | None:
        # As Django's ModelBackend: a session of a switched-off account signs no one in (the library's would).
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        # The library checks the signature, expiry and nonce but neither the audience nor the issuer.
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The token is meant for another client.")
        if payload.get("iss") != settings.PARLEY_OIDC_ISSUER:
            raise SuspiciousOperation(f"The token comes from issuer {payload.get('iss')!r}, not ours.")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims, with the userinfo endpoint's on top when one is configured (Entra ID puts the
        roles in the ID token only; some providers put e-mail and name in userinfo only)."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo endpoint describes someone other than the ID token.")
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        claims = self.get_userinfo(access_token, id_token, payload)
        user = oidc_account_for(person=oidc_person_from_claims(claims))
        # The provider's subject and session for the sign-in record (accounts.services.sign_in_record), so a
        # back-channel logout naming them finds this session. From the verified ID token, not userinfo.
        for claim, attribute in (("sub", "oidc_subject"), ("sid", "oidc_session_id")):
            value = payload.get(claim)
            if isinstance(value, str) and 0 < len(value) <= 255:
                setattr(self.request, attribute, value)
        return user


# ---- back-channel logout ----------------------------------------------------------------------------------

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A provider sends its Logout Token the moment someone signs out: one issued longer ago than this is refused, which
# also bounds how long a token's `jti` must be remembered to refuse a replay (accounts.models.LogoutTokenSeen).
LOGOUT_TOKEN_MAX_AGE = 10 * 60  # seconds
# How long a token's jti is remembered: longer than its iat lets it be accepted (with a margin for the clocks of
# several Parley hosts), so a replay is refused by the one or the other.
LOGOUT_TOKEN_REPLAY_WINDOW = timedelta(seconds=LOGOUT_TOKEN_MAX_AGE + 60)


@dataclass(frozen=True)
class LogoutToken:
    """What a checked Logout Token says: the provider's subject and/or its session id ("" when absent)."""

    jti: str
    subject: str
    session_id: str


def oidc_logout_token_verify(token: str) -> LogoutToken:
    """Check a Logout Token as OpenID Connect Back-Channel Logout 1.0 (section 2.6) asks, or raise
    LogoutTokenInvalid saying why (ProviderKeysUnavailable when the provider's keys cannot be fetched).

    The signature, algorithm, expiry (when `exp` is present), issuer and audience are checked exactly as for an ID
    token, by ParleyOIDCBackend.verify_token (the library's key handling: the configured key or the provider's
    JWKS, the client secret for HS algorithms). A replayed `jti` is refused by the service that acts on the token.
    """
    if not token:
        raise LogoutTokenInvalid("The request has no logout_token.")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise LogoutTokenInvalid(f"The logout token is not a JWT: {error}") from None
    # The claims' own rules first, on the unverified token: they only ever refuse (accepting takes the signature
    # below, over these same claims), and refusing junk this way costs no request for the provider's keys (the
    # library fetches them for every token it checks).
    _logout_claims_check(unverified)
    try:
        claims = ParleyOIDCBackend().verify_token(token, nonce=None)
    except SuspiciousOperation as error:  # a bad signature or algorithm, another issuer or audience
        raise LogoutTokenInvalid(f"The logout token is refused: {error}") from None
    except requests.RequestException as error:
        logger.warning("OIDC back-channel logout: the provider's keys could not be fetched: %s", error)
        raise ProviderKeysUnavailable("The identity provider's keys could not be fetched; try again.") from None
    except jwt.ExpiredSignatureError:
        raise LogoutTokenInvalid("The logout token has expired (exp).") from None
    except jwt.PyJWTError as error:
        raise LogoutTokenInvalid(f"The logout token is refused: {error}") from None
    except (KeyError, ValueError, TypeError) as error:  # no kid in the header, keys of the wrong shape
        raise LogoutTokenInvalid(f"The logout token is malformed ({type(error).__name__}: {error}).") from None
    return LogoutToken(
        jti=_logout_claim_text(claims, "jti", required=True),
        subject=_logout_claim_text(claims, "sub"),
        session_id=_logout_claim_text(claims, "sid"),
    )


def _logout_claims_check(claims: dict[str, Any]) -> None:
    issued_at = claims.get("iat")
    if not isinstance(issued_at, int | float) or isinstance(issued_at, bool):
        raise LogoutTokenInvalid("The logout token has no issue time (iat).")
    now = time.time()
    if issued_at < now - LOGOUT_TOKEN_MAX_AGE:
        raise LogoutTokenInvalid(f"The logout token was issued more than {LOGOUT_TOKEN_MAX_AGE} seconds ago (iat).")
    if issued_at > now:  # as for ID tokens (PyJWT allows no leeway there either): the provider's clock is ahead
        raise LogoutTokenInvalid("The logout token's issue time (iat) is in the future.")
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
        raise LogoutTokenInvalid(f"The logout token's events claim does not name {BACKCHANNEL_LOGOUT_EVENT}.")
    if "nonce" in claims:  # what tells an ID token from a Logout Token, so one cannot pass for the other
        raise LogoutTokenInvalid("A logout token must not carry a nonce.")
    _logout_claim_text(claims, "jti", required=True)
    if not _logout_claim_text(claims, "sub") and not _logout_claim_text(claims, "sid"):
        raise LogoutTokenInvalid("The logout token names neither a subject (sub) nor a session (sid).")


def _logout_claim_text(claims: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = claims.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > 255:
        raise LogoutTokenInvalid(f"The logout token's {name} claim must be a non-empty string of at most 255.")
    return value
