"""Matters (archive.matters): a search saved under a case name, rerun, its results tagged and untagged, and its
people and conversations put under a legal hold in one step that really stops the purge."""

from datetime import datetime, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.http import QueryDict
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive.forms import ArchiveSearchForm
from archive.matters import (
    MatterInvalid,
    matter_close,
    matter_create,
    matter_hold,
    matter_list,
    matter_review_query,
    matter_search,
    matter_tag,
    matter_tagged_entries,
    matter_tags_by_entry,
    matter_untag,
)
from archive.models import ArchiveEntry, MatterTag
from archive.retention import apply_retention, legal_hold_release
from archive.selectors import ArchiveSearch, audit_access_details
from archive.tests.factories import backdate, rehash
from core.testing import table_text
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def officer():
    return UserFactory(username="olga")


@pytest.fixture
def desk(alice, bob):
    """#desk, where alice talks about the merger with bob, and #lunch, where she does not."""
    desk = room_with(alice, bob, name="desk")
    send(alice, desk, "The merger closes Friday")
    send(bob, desk, "keep the merger quiet")
    lunch = room_with(alice, UserFactory(username="carol"), name="lunch")
    send(alice, lunch, "sandwiches?")
    return {"desk": desk, "lunch": lunch}


def said(text: str) -> ArchiveEntry:
    """The archive entry of the message sent with this text."""
    from archive.selectors import entries_in_chain_order

    (entry,) = [e for e in entries_in_chain_order() if e.content.get("body") == text]
    return ArchiveEntry.objects.get(pk=entry.pk)


def accesses(action: str):
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__archive_access=action)


def merger_search(**changes) -> ArchiveSearch:
    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    fields = {
        "words": "merger",
        "since": datetime.combine(today - DAY, time.min, zone),
        "until": datetime.combine(today, time.max, zone),
        **changes,
    }
    return ArchiveSearch(**fields)


# ---- saving and rerunning ---------------------------------------------------------------------------------


def test_a_saved_search_comes_back_as_it_was_and_its_words_are_stored_sealed(officer, alice):
    search = merger_search(people=(alice.pk,))

    matter = matter_create(by=officer, name="  SEC inquiry   24-117 ", description="Wells notice", search=search)

    assert matter.name == "SEC inquiry 24-117"
    assert matter_search(matter=matter) == search
    assert "merger" not in table_text("archive_matter")
    (logged,) = accesses("matter_create")
    assert logged.actor == officer and logged.object_pk == str(matter.pk)
    assert audit_access_details(entry=logged)["criteria"]["words"] == "merger"
    assert "merger" not in table_text("auditlog_logentry")


@pytest.mark.parametrize(
    ("name", "search", "refusal"),
    [
        ("", merger_search(), "Give the matter a name"),
        ("x" * 201, merger_search(), "at most 200 characters"),
        ("Everything", ArchiveSearch(), "Narrow the search"),
        ("SEC inquiry 24-117", merger_search(), "exists already"),
    ],
)
def test_a_nameless_too_long_taken_or_empty_matter_is_refused(officer, name, search, refusal):
    matter_create(by=officer, name="SEC inquiry 24-117", search=merger_search())

    with pytest.raises(MatterInvalid, match=refusal):
        matter_create(by=officer, name=name, search=search)

    assert accesses("matter_create").count() == 1


def test_rerunning_fills_the_review_form_with_the_saved_criteria(officer, alice, desk):
    search = merger_search(people=(alice.pk,), conversation_ids=(desk["desk"].pk,))
    matter = matter_create(by=officer, name="Case 9", search=search)

    query = QueryDict(matter_review_query(matter=matter))
    form = ArchiveSearchForm(query)

    assert form.is_valid(), form.errors
    assert form.search() == search
    assert query["matter"] == str(matter.pk) and query["people"] == "alice"


# ---- tags -------------------------------------------------------------------------------------------------


def test_tagging_several_results_at_once_and_again_adds_each_tag_once(officer, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    first, second = said("The merger closes Friday"), said("keep the merger quiet")

    added = matter_tag(matter=matter, by=officer, entry_ids=[first.pk, second.pk], tag="responsive")
    again = matter_tag(matter=matter, by=officer, entry_ids=[first.pk, second.pk], tag="responsive")
    matter_tag(matter=matter, by=officer, entry_ids=[first.pk], tag="hot")

    assert (added, again) == (2, 0)
    assert matter_tags_by_entry(matter=matter) == {first.pk: ["hot", "responsive"], second.pk: ["responsive"]}
    assert [row.additional_data["added"] for row in accesses("matter_tag").order_by("pk")] == [2, 0, 1]


def test_untagging_keeps_the_tag_row_stamped_with_who_and_when_and_a_new_tag_is_a_new_row(officer, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    entry = said("The merger closes Friday")
    matter_tag(matter=matter, by=officer, entry_ids=[entry.pk], tag="responsive")

    removed = matter_untag(matter=matter, by=officer, entry_ids=[entry.pk], tag="responsive")
    matter_tag(matter=matter, by=officer, entry_ids=[entry.pk], tag="responsive")

    assert removed == 1
    old, new = MatterTag.objects.order_by("pk")
    assert old.removed_by == officer and old.removed_at is not None
    assert new.removed_at is None
    assert accesses("matter_untag").get().additional_data["removed"] == 1


@pytest.mark.parametrize(
    ("tag", "entries", "refusal"),
    [
        ("", "one", "Type a tag"),
        ("   ", "one", "Type a tag"),
        ("<script>", "one", "letters, digits"),
        ("x" * 41, "one", "at most 40"),
        ("responsive", "none", "Choose at least one entry"),
        ("responsive", "unknown", "No archive entry 999999"),
    ],
)
def test_a_bad_tag_or_unknown_entries_are_refused_and_nothing_is_tagged(officer, desk, tag, entries, refusal):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    ids = {"one": [said("The merger closes Friday").pk], "none": [], "unknown": [999999]}[entries]

    with pytest.raises(MatterInvalid, match=refusal):
        matter_tag(matter=matter, by=officer, entry_ids=ids, tag=tag)

    assert not MatterTag.objects.exists() and not accesses("matter_tag").exists()


def test_the_tagged_entries_read_as_on_the_review_screen_and_a_purged_one_is_named(officer, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    entry = said("The merger closes Friday")
    matter_tag(matter=matter, by=officer, entry_ids=[entry.pk], tag="responsive")
    MatterTag.objects.create(matter=matter, entry_id=123456789, tag="responsive", tagged_by=officer)

    tagged = matter_tagged_entries(matter=matter)

    (row,) = tagged.rows
    assert row.who.username == "alice" and row.where == "#desk" and row.text == "The merger closes Friday"
    assert row.tags == ["responsive"]
    assert tagged.gone == [123456789] and tagged.total == 2


def test_a_closed_matter_takes_no_more_tags_or_holds(officer, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    matter_close(matter=matter, by=officer)

    with pytest.raises(MatterInvalid, match="closed"):
        matter_tag(matter=matter, by=officer, entry_ids=[said("keep the merger quiet").pk], tag="late")
    with pytest.raises(MatterInvalid, match="closed"):
        matter_hold(matter=matter, by=officer)
    with pytest.raises(MatterInvalid, match="closed already"):
        matter_close(matter=matter, by=officer)

    assert accesses("matter_close").count() == 1


def test_the_list_counts_live_tags_tagged_entries_and_open_holds(officer, alice, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search())
    first, second = said("The merger closes Friday"), said("keep the merger quiet")
    matter_tag(matter=matter, by=officer, entry_ids=[first.pk, second.pk], tag="responsive")
    matter_tag(matter=matter, by=officer, entry_ids=[first.pk], tag="hot")
    matter_untag(matter=matter, by=officer, entry_ids=[second.pk], tag="responsive")
    legal_hold_release(hold=matter_hold(matter=matter, by=officer), by=officer)
    matter_hold(matter=matter, by=officer)
    matter_create(by=officer, name="Case 10", search=merger_search())

    newer, listed = matter_list()

    assert (listed.tag_count, listed.tagged_entry_count, listed.open_hold_count, listed.hold_count) == (2, 1, 1, 2)
    assert (newer.tag_count, newer.tagged_entry_count, newer.open_hold_count, newer.hold_count) == (0, 0, 0, 0)


# ---- one-step legal hold ----------------------------------------------------------------------------------


def test_a_hold_from_a_matter_covers_its_people_the_conversations_it_matches_and_its_dates(officer, alice, desk):
    search = merger_search(people=(alice.pk,))
    matter = matter_create(by=officer, name="SEC inquiry 24-117", search=search)

    hold = matter_hold(matter=matter, by=officer, reason="Subpoena of 3 March")

    assert hold.case_name == "SEC inquiry 24-117" and hold.reason == "Subpoena of 3 March"
    assert list(hold.users.all()) == [alice]
    assert list(hold.rooms.all()) == [desk["desk"]]  # #lunch has alice but not the merger
    assert (hold.starts_at, hold.ends_at) == (search.since, search.until)
    assert hold.opened_by == officer and hold.is_open
    assert list(matter.holds.all()) == [hold]
    logged = accesses("matter_hold").get()
    assert logged.additional_data["hold"] == hold.pk
    assert logged.additional_data["conversation_ids"] == [desk["desk"].pk]


def test_a_search_that_names_no_one_and_matches_nothing_cannot_be_held(officer, desk):
    matter = matter_create(by=officer, name="Case 9", search=merger_search(words="nonexistentword"))

    with pytest.raises(MatterInvalid, match="nothing to hold"):
        matter_hold(matter=matter, by=officer)

    assert not matter.holds.exists() and not accesses("matter_hold").exists()


def test_the_hold_really_stops_the_purge_of_what_the_search_found(officer, alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    desk = room_with(alice, bob, name="desk")
    send(alice, desk, "The merger closes Friday")
    lunch = room_with(alice, bob, name="lunch")
    send(alice, lunch, "sandwiches?")
    for room in (desk, lunch):
        backdate(room, 2201)
        rehash(room)
    long_ago = timezone.now() - 2202 * DAY
    matter = matter_create(
        by=officer, name="Old case", search=ArchiveSearch(words="merger", since=long_ago, until=timezone.now())
    )
    hold = matter_hold(matter=matter, by=officer)

    report = apply_retention()

    assert report.spared_by_hold == 1
    assert ArchiveEntry.objects.filter(conversation_id=desk.pk, event_type="message_sent").count() == 1
    assert not ArchiveEntry.objects.filter(conversation_id=lunch.pk, event_type="message_sent").exists()
    assert list(hold.users.all()) == [] and list(hold.rooms.all()) == [desk]
