"""New accounts join the default rooms (#general), however they were created.

A receiver, not a call in each door, because accounts are created through several doors that sit below the
messenger or outside Parley's code: the user admin, the CSV import (accounts.user_import), `createsuperuser`,
the demo seed, a shell. All of them save a new User, and accounts may not import the messenger
(docs/architecture.md), so the post_save of a new user is the one place that sees them all.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import User
from messenger.services import default_rooms_join


@receiver(post_save, sender=User, dispatch_uid="parley_default_rooms_join")
def _join_default_rooms(sender, instance: User, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or not instance.is_active:
        return

    def join() -> None:
        default_rooms_join(user=instance)

    # After the account's transaction commits, one short transaction per room (see default_rooms_join). Robust:
    # the account exists by then, so a failure here is logged, never turned into an error page for IT.
    transaction.on_commit(join, robust=True)
