import uuid

from accounts.tests.factories import UserFactory
from messenger import services
from messenger.models import Conversation


def room_with(*members, name: str | None = None, is_public: bool = False) -> Conversation:
    """A room created through the service, owned by the first member."""
    owner, *others = members
    return services.room_create(
        creator=owner,
        name=name or f"room-{uuid.uuid4().hex[:8]}",
        is_public=is_public,
        member_usernames=[person.username for person in others],
    )


def send(sender, conversation, body: str = "hello", **kwargs):
    return services.message_send(
        sender=sender, conversation_id=conversation.pk, client_id=uuid.uuid4().hex, body=body, **kwargs
    )


__all__ = ["UserFactory", "room_with", "send"]
