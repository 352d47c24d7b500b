from accounts.tests.factories import UserFactory
from messenger.tests.factories import room_with, send

__all__ = ["UserFactory", "room_with", "send"]
