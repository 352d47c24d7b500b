"""Receivers for what Django itself does to accounts: signing in and out, and saves that deactivate.

Deactivation takes effect at once, however it is done: admin, import, a command, or code calling save(); it
also revokes the account's API tokens.
A receiver is the right depth here (not the usual "call the service"): `is_active` is a Django field that
admin forms and other code set directly. QuerySet.update(is_active=False) bypasses signals and is not
supported for deactivation (docs/administration.md). Likewise every sign-in, whichever view performs it, goes
through django.contrib.auth.login, whose signal records it.
"""

from __future__ import annotations

from functools import partial

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from accounts.models import User


@receiver(post_init, sender=User)
def _remember_active(sender, instance: User, **kwargs) -> None:
    instance._was_active = instance.is_active


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
    transaction.on_commit(partial(signed_out_everywhere, user_id=instance.pk, reason="deactivated"))


@receiver(user_logged_in)
def _record_sign_in(sender, request, user: User, **kwargs) -> None:
    from accounts.services import sign_in_record

    sign_in_record(user=user, request=request)


@receiver(user_logged_out)
def _end_sign_in(sender, request, user, **kwargs) -> None:
    from accounts.services import sign_in_ended

    sign_in_ended(session_key=request.session.session_key or "", reason="signed_out")
