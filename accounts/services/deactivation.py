"""Switching accounts off and on, and IT signing someone out everywhere."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from accounts.services.sessions import signed_out_everywhere
from core.audit import audit_record


def user_deactivate(*, user: User) -> User:
    """Switch an account off. Its sessions end and its live sockets close on every worker (see
    `signed_out_everywhere`, run for any save that turns is_active off), and its API tokens are revoked for good
    (accounts/signals.py); its messages stay, archived. What apps above accounts do about it (games forfeited,
    `user_deactivated`) happens in the same transaction."""
    if user.is_active:
        with transaction.atomic():
            user.is_active = False
            user.save(update_fields=["is_active"])
    return user


def user_reactivate(*, user: User) -> User:
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def user_sign_out_everywhere(*, user: User, actor: User | None) -> int:
    """IT signs someone out of every session and window (a lost laptop): audit-logged with `actor`."""
    audit_record(actor=actor, target=user, action="signed_out_everywhere")
    return signed_out_everywhere(user_id=user.pk, reason="signed_out_by_it")
