"""Searching the archive: by people, conversations, dates and words (the blind index, then the opened content),
page by page."""

from datetime import timedelta
from itertools import chain

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry
from archive.search_index import content_text
from archive.selectors import ArchiveSearch, SearchCursorInvalid, archive_search, conversations_matching
from core.blind_index import QueryError
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
    assert "Hold the bonds" in content_text(edits.hits[1].content)


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


def every_page(search: ArchiveSearch, *, limit: int) -> list[list[int]]:
    """The pks of each page, following next_after to the end."""
    pages, after = [], None
    while True:
        result = archive_search(search=search, limit=limit, after=after)
        pages.append([hit.pk for hit in result.hits])
        if result.next_after is None:
            return pages
        after = result.next_after


def test_pages_return_every_hit_exactly_once_oldest_first_and_the_last_says_so():
    alice = UserFactory()
    room = room_with(alice)
    for index in range(23):
        send(alice, room, f"report {index}" if index % 3 else f"report {index} draft")
    everything = [e.pk for e in ArchiveEntry.objects.order_by("occurred_at", "pk")]
    reports = [e.pk for e in ArchiveEntry.objects.filter(event_type="message_sent").order_by("occurred_at", "pk")]

    by_words = every_page(ArchiveSearch(words="report"), limit=5)
    not_drafts = every_page(ArchiveSearch(words="report -draft"), limit=4)  # rejected candidates between pages
    by_metadata = every_page(ArchiveSearch(), limit=7)

    assert [len(page) for page in by_words] == [5, 5, 5, 5, 3]
    assert list(chain(*by_words)) == reports
    assert list(chain(*not_drafts)) == [pk for pk in reports if pk not in reports[::3]]
    assert list(chain(*by_metadata)) == everything


def test_a_cursor_not_handed_out_is_refused_with_a_reason(desk):
    for forged in ("nonsense", "W10", "WyIyMDI2LTAxLTAxIiwgMV0"):  # the last: a date without a time zone
        with pytest.raises(SearchCursorInvalid, match="not valid"):
            archive_search(search=ArchiveSearch(words="noon"), after=forged)


def test_or_not_and_quoted_phrases_mean_what_they_say(desk):
    def found(words: str) -> list[str]:
        return bodies(archive_search(search=ArchiveSearch(words=words)))

    assert found("acme OR lunch") == ["Buy 500 ACME before the call", "lunch at noon?"]
    assert found("noon NOT lunch") == ["Sell the bonds at noon"]
    assert found("noon -lunch") == ["Sell the bonds at noon"]
    assert found('"the bonds at"') == ["Sell the bonds at noon"]
    assert found('"at the bonds"') == []  # the words are all there, not in that order
    assert found('"buy 500" OR "lunch at" -acme') == ["lunch at noon?"]
    assert found("bon") == []  # whole words: no prefix search (docs/security.md)


def test_words_match_accents_and_case_as_written():
    alice = UserFactory()
    send(alice, room_with(alice), "Le CAFÉ est fermé")

    assert bodies(archive_search(search=ArchiveSearch(words="cafe FERME"))) == ["Le CAFÉ est fermé"]


def test_words_that_cannot_be_understood_raise_a_query_error(desk):
    with pytest.raises(QueryError):
        archive_search(search=ArchiveSearch(words='"unclosed'))
    with pytest.raises(QueryError):
        archive_search(search=ArchiveSearch(words="NOT noon"))


def test_an_export_covers_the_conversations_a_search_matches(desk):
    assert conversations_matching(search=ArchiveSearch(words="bonds")) == [desk["room"].pk]
    assert conversations_matching(search=ArchiveSearch(conversation_ids=(desk["direct"].pk,))) == [desk["direct"].pk]
    assert conversations_matching(search=ArchiveSearch()) is None  # everything
    assert conversations_matching(search=ArchiveSearch(words="nowhere to be found")) == []


def test_an_entry_that_does_not_open_is_counted_not_shown(desk):
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)

    result = archive_search(search=ArchiveSearch(words="sell"))  # the index still names `second` for "sell"

    assert [hit.event_type for hit in result.hits] == ["message_edited"]  # bob's edit: its old text said "Sell"
    assert result.unopenable == 1
