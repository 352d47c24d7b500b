"""Per-user API tokens for bots and scripts."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from accounts.errors import ApiTokenRefused
from accounts.models import ApiToken, User
from accounts.selectors import api_token_live, is_privileged
from core.audit import audit_record


def api_token_create(*, user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """A new token for bots and scripts, audit-logged with `actor` (None: an operator at the shell). The clear
    token is returned once and never stored.

    Refused for privileged accounts: a token skips the second factor, so it would turn an IT Admin's or a
    Compliance Officer's password-and-code into a bare secret (docs/security.md).
    """
    if is_privileged(user=user):
        raise ApiTokenRefused(
            f"{user.get_username()} is a privileged account (superuser, staff, IT Admin or Compliance Officer): "
            "API tokens skip the second factor, so they are not given to such accounts."
        )
    token = f"pat_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        record = ApiToken.objects.create(user=user, name=name, token_hash=ApiToken.hash_of(token))
        audit_record(
            actor=actor,
            target=record,
            action="api_token_created",
            changes={"user": [None, user.get_username()], "name": [None, name]},
            creates=True,
        )
    return record, token


def api_token_revoke(*, token: ApiToken, actor: User | None = None, reason: str = "revoked") -> bool:
    """Stop a token for good, audit-logged with `actor`. Returns False when it was revoked already."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            token.revoked_at = now
            changes = {"revoked_at": [None, now.isoformat()]}
            audit_record(
                actor=actor, target=token, action="api_token_revoked", changes=changes, details={"reason": reason}
            )
    return bool(revoked)


def api_tokens_revoke_all(*, user: User, actor: User | None, reason: str) -> int:
    """Revoke every live token of a user (they were deactivated): reactivating them later revives none."""
    live = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
    return sum(api_token_revoke(token=token, actor=actor, reason=reason) for token in live)


def api_token_use(*, token: str) -> User | None:
    """The user a live token authenticates (see accounts.selectors.api_token_live), or None; notes the token
    used, at most once a minute, so IT sees which tokens are still in use without a write per API call."""
    found = api_token_live(token=token)
    if found is None:
        return None
    now = timezone.now()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user
