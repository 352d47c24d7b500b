"""Bearer tokens of the identity provider for SCIM provisioning (accounts/scim, docs/directory.md, SCIM)."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import ScimToken, User
from core.audit import audit_record

SCIM_TOKEN_PREFIX = "scim_"  # noqa: S105 (a prefix that tells tokens apart, not a secret)


def scim_token_issue(*, name: str, actor: User | None) -> tuple[ScimToken, str]:
    """A new token for an identity provider, audit-logged with `actor` (IT in admin; None: an operator at the
    shell). The clear token is returned once and never stored: IT pastes it into the provider's settings."""
    token = f"{SCIM_TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        record = ScimToken.objects.create(name=name, token_hash=ScimToken.hash_of(token), created_by=actor)
        audit_record(
            actor=actor, target=record, action="scim_token_issued", changes={"name": [None, name]}, creates=True
        )
    return record, token


def scim_token_revoke(*, token: ScimToken, actor: User | None) -> bool:
    """Stop a token for good, audit-logged with `actor`. Returns False when it was revoked already."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            token.revoked_at = now
            audit_record(
                actor=actor, target=token, action="scim_token_revoked", changes={"revoked_at": [None, now.isoformat()]}
            )
    return bool(revoked)


def scim_token_use(*, token: str) -> ScimToken | None:
    """The live SCIM token matching a clear token, or None. One query; notes the token used at most once a
    minute, so IT sees whether the provider still calls without a write per SCIM request."""
    if not token.startswith(SCIM_TOKEN_PREFIX):
        return None  # a person's API token, or anything else: never looked up here
    found = ScimToken.objects.filter(token_hash=ScimToken.hash_of(token), revoked_at__isnull=True).first()
    if found is None:
        return None
    now = timezone.now()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
        ScimToken.objects.filter(pk=found.pk).update(last_used_at=now)
        found.last_used_at = now
    return found
