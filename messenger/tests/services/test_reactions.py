"""messenger/services/reactions.py: reactions to messages."""

import pytest

from messenger import services
from messenger.errors import BodyInvalid
from messenger.tests.factories import room_with, send


@pytest.mark.django_db
class TestReactions:
    def test_reactions_are_counted_per_emoji_with_who_reacted(self, alice, bob):
        message = send(alice, room_with(alice, bob))

        services.reaction_add(user=alice, message_id=message.pk, emoji="👍")
        services.reaction_add(user=bob, message_id=message.pk, emoji="👍")
        services.reaction_add(user=bob, message_id=message.pk, emoji="🎉")
        summary = services.reaction_add(user=bob, message_id=message.pk, emoji="🎉")  # twice: still one

        assert summary == [
            {"emoji": "👍", "count": 2, "user_ids": [alice.pk, bob.pk]},
            {"emoji": "🎉", "count": 1, "user_ids": [bob.pk]},
        ]
        assert services.reaction_remove(user=bob, message_id=message.pk, emoji="👍") == [
            {"emoji": "👍", "count": 1, "user_ids": [alice.pk]},
            {"emoji": "🎉", "count": 1, "user_ids": [bob.pk]},
        ]

    @pytest.mark.parametrize("emoji", ["", "two words", "x" * 33])
    def test_a_malformed_emoji_is_refused(self, alice, emoji):
        message = send(alice, room_with(alice))

        with pytest.raises(BodyInvalid):
            services.reaction_add(user=alice, message_id=message.pk, emoji=emoji)
