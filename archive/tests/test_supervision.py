"""Supervision (archive.supervision): lexicons flag what is archived, off the send path; sampling draws its share;
decisions are recorded once and never changed."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts import roles
from accounts.tests.factories import UserFactory
from archive import supervision
from archive.models import (
    ArchiveEntry,
    Lexicon,
    SamplingRule,
    SupervisionCursor,
    SupervisionDecision,
    SupervisionItem,
)
from archive.supervision import (
    PatternTimeout,
    SupervisionInvalid,
    item_matched_terms,
    items_overdue,
    pattern_refusal,
    pattern_search,
    supervision_decide,
    supervision_decisions_csv,
    supervision_queue,
    supervision_sample,
    supervision_step,
)
from archive.supervision_models import DecisionImmutable
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def lexicon(name="trading", *, words="", phrases="", patterns="", risk="high", groups=(), people=()):
    made = Lexicon.objects.create(name=name, words=words, phrases=phrases, patterns=patterns, risk=risk)
    made.groups.set(groups)
    made.people.set(people)
    return made


def flagged(**filters):
    return SupervisionItem.objects.filter(kind="lexicon", **filters)


@pytest.fixture
def many_sends(monkeypatch):
    """Sampling needs a day's worth of messages from one person, faster than the send rate limit allows."""
    from core.ratelimit import TokenBucket

    monkeypatch.setattr(services.messages, "send_rate_limit", TokenBucket(rate=1000, burst=1000))


@pytest.fixture
def officer():
    roles.role_permissions_apply()
    olga = UserFactory(username="olga")
    olga.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
    return olga


# ---- lexicons ----------------------------------------------------------------------------------------------


def test_words_phrases_and_patterns_in_new_messages_land_in_the_queue_with_the_matched_terms(alice, bob):
    lexicon(words="guarantee\ninsider*", phrases="off the books", patterns=r"\b\d{3}-\d{2}-\d{4}\b")
    room = room_with(alice, bob)
    hit = send(alice, room, "I GUARANTÉE it, keep it off   the books, insiders know; SSN 123-45-6789")
    send(bob, room, "the guaranteed books are off")  # other words: not a match

    report = supervision_step()

    (item,) = flagged()
    assert (item.message_id, item.actor_id, item.conversation_id, item.risk) == (hit.pk, alice.pk, room.pk, "high")
    assert item_matched_terms(item) == [
        "guarantee",
        "insider*",
        "off the books",
        r"/\b\d{3}-\d{2}-\d{4}\b/: 123-45-6789",
    ]
    assert report.flagged == 1 and report.checked == ArchiveEntry.objects.count()


def test_a_word_with_a_hyphen_matches_as_the_words_it_is_made_of(alice):
    lexicon(words="risk-free")
    room = room_with(alice)
    send(alice, room, "totally Risk Free!")
    send(alice, room, "free of risk")

    supervision_step()

    assert [item_matched_terms(item) for item in flagged()] == [["risk-free"]]


def test_the_matched_terms_are_stored_sealed(alice):
    from core.testing import table_text

    lexicon(words="kickback")
    send(alice, room_with(alice), "a kickback for you")

    supervision_step()

    assert flagged().count() == 1
    assert "kickback" not in table_text("archive_supervisionitem")


def test_edits_are_checked_by_their_new_text_and_shared_file_names_too(alice, settings):
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""
    lexicon(words="guarantee\nleak*")
    room = room_with(alice)
    message = send(alice, room, "a guarantee")  # flagged as sent
    supervision_step()
    services.message_edit(editor=alice, message_id=message.pk, body="no promise at all")
    file_share(
        sender=alice, conversation_id=room.pk, client_id="f1", name="leaked-deck.pdf", content_type="", data=b"x"
    )

    supervision_step()

    assert sorted(flagged().values_list("event_type", flat=True)) == ["file_shared", "message_sent"]
    shared = flagged(event_type="file_shared").get()
    assert item_matched_terms(shared) == ["leak*"]


def test_a_lexicon_for_a_group_or_a_person_applies_to_them_only(alice, bob):
    traders = roles.role_group(roles.EMPLOYEES)
    carol = UserFactory(username="carol")
    carol.groups.add(traders)
    lexicon("desk", words="promise", groups=[traders])
    lexicon("bob only", words="promise", people=[bob])
    room = room_with(alice, bob, carol)
    for person in (alice, bob, carol):
        send(person, room, "I promise")

    supervision_step()

    assert set(flagged().values_list("actor_id", "lexicon__name")) == {(carol.pk, "desk"), (bob.pk, "bob only")}


def test_each_entry_is_checked_once_and_later_entries_in_the_next_step(alice):
    lexicon(words="promise")
    room = room_with(alice)
    send(alice, room, "promise one")
    supervision_step()

    send(alice, room, "promise two")
    again = supervision_step()

    assert flagged().count() == 2
    assert again.checked == 1  # only the new entry was read
    assert SupervisionCursor.objects.get().checked_through == ArchiveEntry.objects.order_by("pk").last().pk


def one_in_the_morning_tomorrow():
    """Tomorrow at 01:00 local time: today has ended (with time to spare for late commits) and tomorrow has not,
    whatever the time the test runs (now + 25 h was the day after tomorrow when run after 23:00)."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=1, hours=1)


def test_a_step_stops_after_its_batches_and_samples_only_once_caught_up(alice, monkeypatch):
    monkeypatch.setattr(supervision, "SCAN_BATCH", 2)
    monkeypatch.setattr(supervision, "MAX_BATCHES_PER_STEP", 2)
    SamplingRule.objects.create(percent=100)
    lexicon(words="promise")
    room = room_with(alice)  # its creation is an entry too
    for index in range(6):
        send(alice, room, f"promise {index}")
    tomorrow = one_in_the_morning_tomorrow()

    first = supervision_step(now=tomorrow, seed="s")
    second = supervision_step(now=tomorrow, seed="s")

    assert (first.checked, first.days_sampled) == (4, [])
    assert second.checked == 3 and second.days_sampled == [timezone.localdate()]
    assert flagged().count() == 6
    assert not SupervisionItem.objects.filter(kind="sample").exists()  # everything was flagged: none to sample


def test_an_inactive_lexicon_flags_nothing(alice):
    lexicon(words="promise").__class__.objects.update(is_active=False)
    send(alice, room_with(alice), "promise")

    supervision_step()

    assert not flagged().exists()


def test_an_entry_that_commits_after_later_ones_were_checked_is_still_checked(alice):
    """Entry ids are taken at insert and seen at commit: an id the step did not see is looked for again."""
    lexicon(words="promise")
    room = room_with(alice)
    late = send(alice, room, "promise, late")
    send(alice, room, "on time")
    late_entry = ArchiveEntry.objects.get(message_id=late.pk)
    # As if `late` had not yet committed when the step read past it: the mark is past it, the id pending.
    SupervisionCursor.objects.create(
        checked_through=ArchiveEntry.objects.order_by("pk").last().pk,
        pending=[[late_entry.pk, timezone.now().isoformat()]],
    )

    supervision_step()

    assert flagged(entry_id=late_entry.pk).exists()
    assert SupervisionCursor.objects.get().pending == []


def test_a_missing_id_is_given_up_after_the_gap_window(alice, settings):
    settings.PARLEY_SUPERVISION_GAP_SECONDS = 60
    SupervisionCursor.objects.create(checked_through=0, pending=[[10**12, timezone.now().isoformat()]])

    supervision_step(now=timezone.now() + timedelta(seconds=61))

    assert SupervisionCursor.objects.get().pending == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_entry_still_uncommitted_while_a_later_one_is_checked_is_checked_after_its_commit(alice, bob):
    """Two real transactions: the first inserts its entry and waits; the second commits a later entry; the step
    runs between; then the first commits."""
    import threading

    from django.db import connections

    lexicon(words="promise")
    slow_room, fast_room = room_with(alice), room_with(bob)
    inserted, release = threading.Event(), threading.Event()

    def slow_send():
        try:
            with transaction.atomic():
                send(alice, slow_room, "a promise, slowly")
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_send)
    thread.start()
    assert inserted.wait(10)
    send(bob, fast_room, "promise, quickly")
    supervision_step()
    first = set(flagged().values_list("actor_id", flat=True))
    release.set()
    thread.join(10)
    supervision_step()

    assert first == {bob.pk}
    assert set(flagged().values_list("actor_id", flat=True)) == {alice.pk, bob.pk}


# ---- regular expressions that could hang the worker ---------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(\w+\s?)*$", r"(a|ab)*c", r"(.*a){20}", r"(?:a{2,}){3}", r"(x)\1", r"[unclosed", "a" * 301],
)
def test_a_pattern_that_could_backtrack_catastrophically_is_refused(pattern):
    assert pattern_refusal(pattern) is not None


@pytest.mark.parametrize("pattern", [r"\bguarant\w*", r"\d{3}-\d{2}-\d{4}", r"(?:buy|sell) \d+ shares", r"(?:ab){2,5}"])
def test_an_ordinary_pattern_is_accepted(pattern):
    assert pattern_refusal(pattern) is None


def test_a_slow_pattern_that_passes_the_check_is_stopped_by_the_time_limit():
    slow = re.compile(r"\w*\w*\w*\w*\w*\w*!")  # polynomial, not exponential: the check lets it through
    assert pattern_refusal(slow.pattern) is None

    started = timezone.now()
    with pytest.raises(PatternTimeout):
        pattern_search(slow, "a" * 3000, seconds=0.05)

    assert timezone.now() - started < timedelta(seconds=2)


def test_a_message_that_makes_a_pattern_time_out_is_flagged_for_a_person_to_read(alice, monkeypatch):
    monkeypatch.setattr(supervision, "PATTERN_SECONDS", 0.05)
    lexicon(patterns=r"\w*\w*\w*\w*\w*\w*!")
    send(alice, room_with(alice), "a" * 3000)

    supervision_step()

    (item,) = flagged()
    assert "stopped after 0.05 s" in item_matched_terms(item)[0]


def test_a_refused_pattern_saved_behind_the_forms_back_is_not_run(alice):
    lexicon(words="promise", patterns=r"(a+)+$")
    send(alice, room_with(alice), "a" * 40 + "b")

    supervision_step()  # returns: the pattern is skipped, not run for ever

    assert not flagged().exists()


# ---- sampling ----------------------------------------------------------------------------------------------


def test_sampling_draws_the_configured_share_of_each_persons_unflagged_messages(alice, bob, many_sends):
    carol = UserFactory(username="carol")
    traders = roles.role_group(roles.EMPLOYEES)
    carol.groups.add(traders)
    SamplingRule.objects.create(percent=10)  # the default
    SamplingRule.objects.create(group=traders, percent=50)
    SamplingRule.objects.create(person=bob, percent=25)
    lexicon(words="promise")
    room = room_with(alice, bob, carol)
    for index in range(40):
        send(alice, room, f"note {index}")
    send(alice, room, "a promise")  # flagged: not in the sample's population
    for index in range(20):
        send(bob, room, f"note {index}")
    for index in range(3):
        send(carol, room, f"note {index}")
    supervision_step()

    drawn = supervision_sample(day=timezone.localdate(), seed="test")

    samples = SupervisionItem.objects.filter(kind="sample")
    per_person = {person.pk: samples.filter(actor_id=person.pk).count() for person in (alice, bob, carol)}
    assert per_person == {alice.pk: 4, bob.pk: 5, carol.pk: 2}  # 10% of 40, 25% of 20, 50% of 3 rounded up
    assert drawn == 11
    assert not samples.filter(entry_id__in=flagged().values("entry_id")).exists()


def test_the_sample_is_repeatable_with_a_seed_and_differs_between_seeds(alice, many_sends):
    SamplingRule.objects.create(percent=20)
    room = room_with(alice)
    for index in range(50):
        send(alice, room, f"note {index}")
    today = timezone.localdate()

    def drawn(seed):
        supervision_sample(day=today, seed=seed)
        chosen = set(SupervisionItem.objects.filter(kind="sample").values_list("entry_id", flat=True))
        SupervisionItem.objects.all().delete()
        return chosen

    assert drawn("one") == drawn("one")
    assert drawn("one") != drawn("two")
    assert len(drawn("one")) == 10


def test_the_worker_samples_each_finished_day_once(alice):
    SamplingRule.objects.create(percent=100)
    send(alice, room_with(alice), "today's message")
    tomorrow = one_in_the_morning_tomorrow()

    first = supervision_step(now=tomorrow, seed="s")
    second = supervision_step(now=tomorrow, seed="s")

    assert first.days_sampled == [timezone.localdate()] and first.sampled == 1
    assert second.days_sampled == []
    assert SupervisionItem.objects.filter(kind="sample").count() == 1


# ---- decisions ---------------------------------------------------------------------------------------------


@pytest.fixture
def items(alice):
    lexicon(words="promise")
    room = room_with(alice)
    for index in range(3):
        send(alice, room, f"promise {index}")
    supervision_step()
    return list(SupervisionItem.objects.order_by("pk"))


def state_of(item):
    return supervision_queue().get(pk=item.pk).state


def test_a_decision_is_recorded_with_who_when_and_why_and_sets_the_state(items, officer):
    from auditlog.models import LogEntry

    (decision,) = supervision_decide(
        items=items[:1], by=officer, outcome="false_positive", comment="a figure of speech"
    )

    stored = SupervisionDecision.objects.get()
    assert (stored.decided_by, stored.outcome, stored.comment) == (officer, "false_positive", "a figure of speech")
    assert stored.decided_at is not None and decision.pk == stored.pk
    assert [state_of(item) for item in items] == ["false_positive", "open", "open"]
    logged = LogEntry.objects.get(additional_data__archive_access="supervision_decision")
    assert logged.actor == officer and logged.additional_data["items"] == [items[0].pk]


def test_a_bulk_decision_records_one_decision_per_item(items, officer):
    supervision_decide(items=items, by=officer, outcome="reviewed", comment="routine, nothing found")

    assert SupervisionDecision.objects.count() == 3
    assert {state_of(item) for item in items} == {"reviewed"}


def test_an_escalation_names_an_officer_and_a_later_decision_is_added_beside_it(items, officer):
    chief = UserFactory(username="chief")
    chief.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))

    supervision_decide(
        items=items[:1], by=officer, outcome="escalated", comment="looks like a promise", escalated_to=chief
    )
    supervision_decide(items=items[:1], by=chief, outcome="reviewed", comment="spoke to the trader")

    assert list(SupervisionDecision.objects.values_list("outcome", "escalated_to__username")) == [
        ("escalated", "chief"),
        ("reviewed", None),
    ]
    assert state_of(items[0]) == "reviewed"


@pytest.mark.parametrize(
    ("outcome", "comment", "to_employee", "refusal"),
    [
        ("escalated", "why", False, "Escalate to a named compliance officer."),
        ("escalated", "why", True, "Escalate to a named compliance officer."),
        ("reviewed", "  ", False, "Say why, in a comment"),
        ("approved", "why", False, "is not a decision"),
    ],
)
def test_a_decision_without_its_parts_is_refused_and_nothing_is_recorded(
    items, officer, outcome, comment, to_employee, refusal
):
    employee = UserFactory(username="eve") if to_employee else None

    with pytest.raises(SupervisionInvalid, match=re.escape(refusal)):
        supervision_decide(items=items, by=officer, outcome=outcome, comment=comment, escalated_to=employee)

    assert not SupervisionDecision.objects.exists()


def test_a_decision_cannot_be_changed_or_removed(items, officer):
    (decision,) = supervision_decide(items=items[:1], by=officer, outcome="reviewed", comment="fine")

    decision.comment = "rewritten"
    with pytest.raises(DecisionImmutable):
        decision.save()
    with pytest.raises(DecisionImmutable):
        SupervisionDecision.objects.update(comment="rewritten")
    with pytest.raises(DecisionImmutable):
        SupervisionDecision.objects.all().delete()
    with pytest.raises(DecisionImmutable):
        decision.delete()
    assert SupervisionDecision.objects.get().comment == "fine"


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_remove_a_decision(items, officer):
    supervision_decide(items=items[:1], by=officer, outcome="reviewed", comment="fine")

    for statement in (
        "UPDATE archive_supervisiondecision SET comment = 'rewritten'",
        "DELETE FROM archive_supervisiondecision",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    assert SupervisionDecision.objects.get().comment == "fine"


def test_the_application_role_may_only_read_and_add_decisions():
    from archive.db_roles import PROTECTED_TABLES

    assert PROTECTED_TABLES[SupervisionDecision._meta.db_table] == "SELECT, INSERT"


def test_items_nobody_decided_within_the_review_days_are_overdue(items, officer, settings):
    settings.PARLEY_SUPERVISION_REVIEW_DAYS = 3
    SupervisionItem.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(
        flagged_at=timezone.now() - timedelta(days=4)
    )
    supervision_decide(items=items[1:2], by=officer, outcome="reviewed", comment="late but done")

    assert list(items_overdue(supervision_queue())) == [items[0]]


def test_decisions_export_as_csv_evidence_tied_to_their_archive_entries(items, officer):
    supervision_decide(items=items[:2], by=officer, outcome="reviewed", comment='=HYPERLINK("evil")')
    out = io.StringIO()

    count = supervision_decisions_csv(out=out, decisions=SupervisionDecision.objects.all())

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 2 and len(rows) == 2
    entry = ArchiveEntry.objects.get(pk=items[0].entry_id)
    assert rows[0]["entry_hash"] == entry.entry_hash
    assert (rows[0]["decided_by"], rows[0]["outcome"], rows[0]["author"]) == ("olga", "reviewed", "alice")
    assert rows[0]["comment"] == '\'=HYPERLINK("evil")'  # never a formula in a spreadsheet
    assert rows[0]["lexicon"] == "trading"


# ---- the send path pays nothing -----------------------------------------------------------------------------


def test_sending_costs_the_same_queries_with_lexicons_and_sampling_in_place(django_assert_num_queries):
    lexicon(words="promise\nguarantee", phrases="off the books", patterns=r"\d{3}-\d{2}-\d{4}")
    SamplingRule.objects.create(percent=100)
    people = UserFactory.create_batch(3)
    room = room_with(*people)
    send(people[0], room)

    # the ten of messenger's pinned send (test_messages.py): checking is the worker's, after commit
    with django_assert_num_queries(10):
        send(people[1], room, "I promise: off the books")

    assert not SupervisionItem.objects.exists()
    supervision_step()
    assert flagged().count() == 1


def test_matched_terms_are_json_in_the_sealed_column(items):
    assert json.loads(items[0].matched) == ["promise"]
