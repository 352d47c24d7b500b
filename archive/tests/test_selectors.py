"""Searching the archive: by people, conversations, dates and words, over the opened content."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive.selectors import ArchiveSearch, archive_search, conversations_matching, entry_text
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    """alice and bob talk in #desk, carol and dave in a direct chat; bob edits one message."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    carol, dave = UserFactory(username="carol"), UserFactory(username="dave")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "Buy 500 ACME before the call")
    typo = send(bob, room, "Sell the bonds at noon")
    services.message_edit(editor=bob, message_id=typo.pk, body="Hold the bonds")
    direct = services.direct_open(user=carol, other_username="dave")
    send(carol, direct, "lunch at noon?")
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "room": room, "direct": direct}


def bodies(result) -> list[str]:
    return [hit.content.get("body") for hit in result.hits if hit.content.get("body")]


def test_words_match_the_opened_text_in_any_case_and_all_must_occur(desk):
    assert bodies(archive_search(search=ArchiveSearch(words="NOON"))) == ["Sell the bonds at noon", "lunch at noon?"]
    assert bodies(archive_search(search=ArchiveSearch(words="noon lunch"))) == ["lunch at noon?"]


def test_the_names_an_entry_seals_are_not_its_words(desk):
    lunch = archive_search(search=ArchiveSearch(words="lunch")).hits[0]

    assert lunch.content["people"][str(desk["carol"].pk)]["username"] == "carol"
    assert archive_search(search=ArchiveSearch(words="carol")).hits == []  # nobody wrote "carol"


def test_an_edit_is_found_by_its_old_text_as_well_as_its_new(desk):
    edits = archive_search(search=ArchiveSearch(words="sell"))

    assert [hit.event_type for hit in edits.hits] == ["message_sent", "message_edited"]
    assert "Hold the bonds" in entry_text(edits.hits[1].content)


def test_a_person_finds_what_they_wrote_and_what_was_said_where_they_were(desk):
    alices = archive_search(search=ArchiveSearch(people=(desk["alice"].pk,)))
    daves = archive_search(search=ArchiveSearch(people=(desk["dave"].pk,), words="noon"))

    assert "Sell the bonds at noon" in bodies(alices)  # bob wrote it, in a room alice is in
    assert "lunch at noon?" not in bodies(alices)
    assert bodies(daves) == ["lunch at noon?"]


def test_conversations_and_dates_narrow_the_search(desk):
    in_room = archive_search(search=ArchiveSearch(conversation_ids=(desk["direct"].pk,), words="noon"))
    tomorrow = archive_search(search=ArchiveSearch(since=timezone.now() + timedelta(days=1)))
    until_yesterday = archive_search(search=ArchiveSearch(until=timezone.now() - timedelta(days=1)))

    assert bodies(in_room) == ["lunch at noon?"]
    assert tomorrow.hits == [] and until_yesterday.hits == []


def test_a_search_stops_at_its_limits_and_says_there_is_more(desk):
    first_two = archive_search(search=ArchiveSearch(), limit=2)
    scanned_three = archive_search(search=ArchiveSearch(words="lunch"), max_scanned=3)
    everything = archive_search(search=ArchiveSearch())

    assert (len(first_two.hits), first_two.more) == (2, True)
    assert (scanned_three.hits, scanned_three.scanned, scanned_three.more) == ([], 3, True)
    assert everything.more is False and len(everything.hits) == everything.scanned


def test_an_export_covers_the_conversations_a_search_matches(desk):
    assert conversations_matching(search=ArchiveSearch(words="bonds")) == [desk["room"].pk]
    assert conversations_matching(search=ArchiveSearch(conversation_ids=(desk["direct"].pk,))) == [desk["direct"].pk]
    assert conversations_matching(search=ArchiveSearch()) is None  # everything
    assert conversations_matching(search=ArchiveSearch(words="nowhere to be found")) == []


def test_an_entry_that_does_not_open_is_counted_not_shown(desk):
    from archive.models import ArchiveEntry
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)

    result = archive_search(search=ArchiveSearch(words="acme"))

    assert bodies(result) == ["Buy 500 ACME before the call"]
    assert result.unopenable == 1
