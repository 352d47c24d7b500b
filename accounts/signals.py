"""Receivers for what Django itself does to accounts: signing in and out, and saves that deactivate or set a
new password.

Deactivation and a new password take effect at once, however they are done: admin, import, a command, a reset
link, or code calling save(); deactivation also revokes the account's API tokens. A receiver is the right
depth here (not the usual "call the service"): `is_active` and the password are Django fields that admin
forms, Django's own views and other code set directly. QuerySet.update(is_active=False) bypasses signals and is
not supported for deactivation (docs/administration.md); an open socket still notices a password set that way
at its next session check. Apps above accounts that must act on a deactivation (games forfeits the
account's games) receive `user_deactivated`, sent here in the deactivating transaction: accounts may not import
them. Likewise every sign-in, whichever view performs it, goes through
django.contrib.auth.login, whose signal records it.
"""

from __future__ import annotations

from functools import partial

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_init, post_save
from django.dispatch import Signal, receiver

from accounts.models import User
from core import fanout

# Sent once when an account is switched off, however it was done, inside that save's transaction (when it has one:
# user_deactivate and the admin open one), with `user`. Receivers write in that transaction: both or neither.
user_deactivated = Signal()


@receiver(post_init, sender=User)
def _remember_active(sender, instance: User, **kwargs) -> None:
    instance._was_active = instance.is_active
    # From __dict__: a User loaded with .only() must not cost a query here (None: unknown, not checked).
    instance._password_at_load = instance.__dict__.get("password")


@receiver(post_save, sender=User)
def _sign_out_when_deactivated(sender, instance: User, created: bool, **kwargs) -> None:
    was_active = getattr(instance, "_was_active", True)
    instance._was_active = instance.is_active
    if created or not was_active or instance.is_active:
        return
    from accounts.services import api_tokens_revoke_all, signed_out_everywhere

    # Revoked at once and for good, in the deactivating transaction: reactivating the account revives no token.
    # The actor is the signed-in user of an admin request (auditlog's middleware), None at the shell.
    api_tokens_revoke_all(user=instance, actor=None, reason="deactivated")
    user_deactivated.send(sender=User, user=instance)
    fanout.after_commit(partial(signed_out_everywhere, user_id=instance.pk, reason="deactivated"))


@receiver(post_save, sender=User)
def _sign_out_when_password_changed(sender, instance: User, created: bool, **kwargs) -> None:
    """A new password hash, however it was set (the password change page, a reset link, IT in admin, a command):
    the user's other sessions end and their sockets close, as Django would refuse those sessions at their next
    request anyway. The session that made the change, if it said so, stays (see password_change_from_session)."""
    loaded, current = getattr(instance, "_password_at_load", None), instance.__dict__.get("password")
    instance._password_at_load = current
    if created or loaded is None or current is None or current == loaded:
        return
    from accounts.services import sessions_end_for_new_password

    # In the same transaction as the new password (both or neither); the sockets close after commit.
    sessions_end_for_new_password(
        user=instance, keep_session_key=getattr(instance, "_password_changed_from_session", None)
    )


@receiver(user_logged_in)
def _record_sign_in(sender, request, user: User, **kwargs) -> None:
    from accounts.services import sign_in_record

    sign_in_record(user=user, request=request)


@receiver(user_logged_out)
def _end_sign_in(sender, request, user, **kwargs) -> None:
    from accounts.services import sign_in_ended

    sign_in_ended(session_key=request.session.session_key or "", reason="signed_out")
