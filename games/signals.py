"""A player who can no longer play forfeits at once, however it happened: they left a room, were removed from
it, or their account was switched off. The messenger and accounts may not import games (docs/architecture.md,
"Layers"), so they send signals (messenger.hooks.member_removed, accounts.signals.user_deactivated) inside their
transactions, and these receivers end the games in the same transaction (games.services.games_forfeit)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.models import User
from accounts.signals import user_deactivated
from games.services import games_forfeit
from messenger.hooks import member_removed
from messenger.models import Membership


@receiver(member_removed, sender=Membership, dispatch_uid="parley_games_forfeit_on_leave")
def _forfeit_on_leave(sender, membership: Membership, actor: User, **kwargs) -> None:
    games_forfeit(user=membership.user, actor=actor, conversation_id=membership.conversation_id)


@receiver(user_deactivated, sender=User, dispatch_uid="parley_games_forfeit_on_deactivation")
def _forfeit_on_deactivation(sender, user: User, **kwargs) -> None:
    # Who switched the account off is not known here (admin, a command, an import): the account is the actor,
    # as for a member who leaves.
    games_forfeit(user=user, actor=user)
