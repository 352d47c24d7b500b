"""messenger/services/reactions.py: reactions to messages."""

import json

import pytest

from archive.models import ArchiveEntry, EventType
from archive.verification import archive_verify
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

    @pytest.mark.parametrize("emoji", ["🦩", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "#️⃣", "🫩"])
    def test_any_emoji_of_the_set_is_a_reaction(self, alice, emoji):
        message = send(alice, room_with(alice))

        assert services.reaction_add(user=alice, message_id=message.pk, emoji=emoji)[0]["emoji"] == emoji

    @pytest.mark.parametrize("emoji", ["", "ok", "two words", ":)", "1", "👍👍", "👍 ", "🏽", "x" * 33])
    def test_anything_but_one_emoji_is_refused(self, alice, emoji):
        message = send(alice, room_with(alice))

        with pytest.raises(BodyInvalid) as refused:
            services.reaction_add(user=alice, message_id=message.pk, emoji=emoji)
        with pytest.raises(BodyInvalid):
            services.reaction_remove(user=alice, message_id=message.pk, emoji=emoji)

        assert refused.value.code == "emoji_invalid"
        assert not message.reactions.exists()

    def test_an_emoji_without_its_variation_selector_is_the_same_reaction(self, alice, bob):
        message = send(alice, room_with(alice, bob))

        services.reaction_add(user=alice, message_id=message.pk, emoji="❤️")
        summary = services.reaction_add(
            user=bob, message_id=message.pk, emoji="\u2764"
        )  # "❤" as some keyboards type it

        assert summary == [{"emoji": "❤️", "count": 2, "user_ids": [alice.pk, bob.pk]}]

    def test_each_reaction_added_or_taken_back_is_archived_once_with_its_message(self, alice, bob):
        room = room_with(alice, bob)
        message = send(alice, room, "approve the trade?")

        services.reaction_add(user=bob, message_id=message.pk, emoji="👍")
        services.reaction_add(user=bob, message_id=message.pk, emoji="👍")  # already there: nothing happened
        services.reaction_remove(user=bob, message_id=message.pk, emoji="👍")
        services.reaction_remove(user=bob, message_id=message.pk, emoji="👍")  # already gone

        entries = ArchiveEntry.objects.filter(
            conversation_id=room.pk, event_type__in=(EventType.REACTION_ADDED, EventType.REACTION_REMOVED)
        ).order_by("position")
        assert [(entry.event_type, entry.actor_id, entry.message_id) for entry in entries] == [
            (EventType.REACTION_ADDED, bob.pk, message.pk),
            (EventType.REACTION_REMOVED, bob.pk, message.pk),
        ]
        contents = [json.loads(entry.payload)["content"] for entry in entries]
        assert [{**content, "people": None} for content in contents] == [
            {"emoji": "👍", "seq": message.seq, "people": None}
        ] * 2
        assert sorted(entries[0].participants) == sorted([alice.pk, bob.pk])
        assert archive_verify().is_intact
