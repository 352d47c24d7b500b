"""messenger/demo.py: the demo company `make run` seeds, as a new user and compliance find it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry, EventType
from archive.selectors import ArchiveSearch, archive_search
from archive.verification import archive_verify
from messenger import selectors
from messenger.demo import _Clock, demo_company_seed
from messenger.demo_week import ROOMS, WEEK
from messenger.models import Attachment, Conversation, Membership, Mention, Message, Reaction

pytestmark = pytest.mark.django_db

TODAY = date(2025, 3, 5)  # a Wednesday: the week played is Monday 24 to Friday 28 February 2025
MONDAY, FRIDAY = date(2025, 2, 24), date(2025, 2, 28)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def company(media, settings):
    """Seeded as `make run` does it: no virus scanner configured (development), files shared unscanned."""
    settings.PARLEY_CLAMD_ADDRESS = ""
    return demo_company_seed(password="demo-pass-123", today=TODAY)


def room(name: str) -> Conversation:
    return Conversation.objects.get(kind=Conversation.Kind.ROOM, name=name)


def members(conversation: Conversation) -> set[str]:
    return set(Membership.objects.filter(conversation=conversation).values_list("user__username", flat=True))


def test_general_is_the_public_default_room_everyone_is_in(company):
    general = room("general")

    assert general.is_default and general.is_public
    assert members(general) == set(User.objects.values_list("username", flat=True))
    assert len(members(general)) == len(company.logins.usernames) == 15


def test_the_rooms_have_topics_the_desk_is_private_and_people_have_direct_chats(company):
    rooms = Conversation.objects.filter(kind=Conversation.Kind.ROOM)

    assert sorted(rooms.values_list("name", flat=True)) == sorted(ROOMS)
    assert all(conversation.topic for conversation in rooms)
    assert not room("trading-desk").is_public
    assert members(room("trading-desk")) == {"mallory", "judy", "niaj"}
    directs = Conversation.objects.filter(kind=Conversation.Kind.DIRECT)
    assert directs.count() >= 4
    assert all(Message.objects.filter(conversation=direct).exists() for direct in directs)


def test_the_week_holds_a_picture_a_file_replies_reactions_a_mention_an_edit_and_a_deletion(company):
    files = {attachment.content_type: attachment.name for attachment in Attachment.objects.all()}
    edited = Message.objects.get(edited_at__isnull=False)
    deleted = Message.objects.get(deleted_at__isnull=False)

    assert files == {"image/png": "pipeline-by-stage.png", "text/csv": "q3-forecast.csv"}
    picture = Attachment.objects.get(content_type="image/png")
    assert picture.file.read().startswith(b"\x89PNG\r\n\x1a\n")  # opened from its sealed copy
    assert Message.objects.exclude(reply_to=None).count() >= 3
    assert Reaction.objects.count() >= 20
    assert Mention.objects.filter(user__username="dave").exists()
    assert edited.body == "Wednesday 10:00 it is, invite sent."
    assert edited.versions.get().body == "Wendesday 10:00 it is, invite sent."
    assert deleted.body == "" and "personal email" in deleted.versions.get().body
    for name in ROOMS:  # a few dozen messages a room
        assert Message.objects.filter(conversation=room(name)).count() >= 15


def test_every_event_is_archived_and_the_archive_verifies(company):
    entries = ArchiveEntry.objects

    report = archive_verify()

    assert report.is_intact, report.problems
    assert report.messages_checked == Message.objects.count() == company.messages
    assert entries.filter(event_type=EventType.FILE_SHARED).count() == 2
    assert entries.filter(event_type=EventType.REACTION_ADDED).count() == Reaction.objects.count()
    assert entries.filter(event_type=EventType.MESSAGE_EDITED).count() == 1
    assert entries.filter(event_type=EventType.MESSAGE_DELETED).count() == 1
    assert entries.filter(event_type=EventType.ROOM_CREATED).count() == len(ROOMS)


def test_the_week_is_stamped_monday_to_friday_and_the_archive_agrees_with_the_messages(company):
    start = timezone.make_aware(datetime.combine(MONDAY, time(8, 0)))
    end = timezone.make_aware(datetime.combine(FRIDAY, time(18, 0)))
    stamps = Message.objects.values_list("created_at", flat=True)
    sent = dict(
        ArchiveEntry.objects.filter(event_type__in=(EventType.MESSAGE_SENT, EventType.FILE_SHARED)).values_list(
            "message_id", "occurred_at"
        )
    )

    assert all(start <= stamp <= end for stamp in stamps)
    assert {timezone.localdate(stamp) for stamp in stamps} == {MONDAY + timedelta(days=n) for n in range(5)}
    for message in Message.objects.all():
        assert abs(sent[message.pk] - message.created_at) < timedelta(seconds=1)
    for conversation_id in ArchiveEntry.objects.values_list("conversation_id", flat=True).distinct():
        times = list(
            ArchiveEntry.objects.filter(conversation_id=conversation_id)
            .order_by("position")
            .values_list("occurred_at", flat=True)
        )
        assert times == sorted(times)
    assert User.objects.get(username="alice").date_joined.date() == MONDAY
    assert abs(timezone.now() - datetime.now(tz=UTC)) < timedelta(minutes=1)  # the clock is back


def test_each_room_plays_its_lines_in_the_order_of_the_script(company):
    general_lines = [
        line.typo or line.text
        for day in WEEK
        for burst in day
        if burst.conversation == "#general"
        for line in burst.lines
    ]
    played = [
        message.versions.first().body if message.edited_at else message.body
        for message in Message.objects.filter(conversation=room("general")).order_by("seq")
    ]

    assert played == general_lines


def test_the_last_day_is_unread_and_the_days_before_are_read(company):
    general = room("general")
    friday_lines = sum(len(burst.lines) for burst in WEEK[-1] if burst.conversation == "#general")
    alice = Membership.objects.get(conversation=general, user__username="alice")

    assert alice.last_read_seq == general.last_seq - friday_lines
    assert selectors.conversation_list_for(user=alice.user)  # the client's list has something to show


def test_search_and_the_archive_desk_find_the_week(company):
    alice = User.objects.get(username="alice")
    hits = selectors.message_search(user=alice, words="Northwind")["messages"]
    deleted = archive_search(search=ArchiveSearch(words="personal email")).hits

    assert len(hits) >= 5
    assert [entry.event_type for entry in deleted] == [EventType.MESSAGE_SENT, EventType.MESSAGE_DELETED]


def test_an_account_created_after_the_seed_joins_general(company, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        zoe = UserFactory(username="zoe")

    assert "zoe" in members(room("general"))
    joined = ArchiveEntry.objects.filter(conversation_id=room("general").pk, event_type=EventType.MEMBER_ADDED).get()
    assert joined.actor_id == zoe.pk


def test_without_an_answering_virus_scanner_the_files_are_skipped_with_a_note_and_the_rest_is_seeded(media, settings):
    settings.PARLEY_CLAMD_ADDRESS = "tcp://127.0.0.1:9"  # nothing listens on the discard port

    company = demo_company_seed(today=TODAY)

    assert not Attachment.objects.exists()
    assert [note.split(" was not shared")[0] for note in company.skipped] == [
        "pipeline-by-stage.png",
        "q3-forecast.csv",
    ]
    assert "virus scanner cannot be reached" in company.skipped[0]
    # Their captions are said as text, so the replies to them still have something to quote.
    assert Message.objects.count() == company.messages
    assert Message.objects.exclude(reply_to=None).count() >= 3
    assert archive_verify().is_intact


@pytest.mark.clamd
def test_with_a_virus_scanner_the_demo_files_are_scanned(media):
    demo_company_seed(today=TODAY)

    assert list(Attachment.objects.values_list("scanned", flat=True)) == [True, True]


def test_the_demo_clock_goes_only_forward_and_never_reaches_now():
    now = timezone.now()
    clock = _Clock(before=now)
    clock.set(now - timedelta(days=2))

    assert clock.now() < clock.now() < now
    with pytest.raises(ValueError):
        clock.set(now - timedelta(days=3))
    with pytest.raises(ValueError):
        clock.set(now)
