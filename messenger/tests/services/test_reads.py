"""messenger/services/reads.py: read markers."""

import pytest

from messenger import services
from messenger.models import Membership
from messenger.tests.factories import room_with, send


@pytest.mark.django_db
class TestReading:
    def test_read_marker_only_moves_forward_and_not_past_the_last_message(self, alice, bob):
        room = room_with(alice, bob)
        for _ in range(3):
            send(alice, room)

        assert services.read_mark(user=bob, conversation_id=room.pk, seq=2) == 2
        assert services.read_mark(user=bob, conversation_id=room.pk, seq=1) == 2
        assert services.read_mark(user=bob, conversation_id=room.pk, seq=99) == 3
        assert Membership.objects.get(user=bob, conversation=room).last_read_seq == 3
