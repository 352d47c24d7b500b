from accounts.tests.factories import UserFactory
from messenger import services
from messenger.models import Conversation
from messenger.tests.factories import room_with


def direct_between(one, other) -> Conversation:
    """The direct chat of two people, opened through the service."""
    return services.direct_open(user=one, other_username=other.username)


__all__ = ["UserFactory", "direct_between", "room_with"]
