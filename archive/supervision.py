"""Supervision (FINRA 3110): lexicons flag archived messages, a daily random sample adds unflagged ones, and
compliance officers decide each item in a queue; decisions are append-only evidence (docs/compliance.md).

Checking happens off the send path: the worker (run_archive_jobs) calls `supervision_step` every few seconds,
which reads archive entries after a high-water mark. Sending pays nothing for it, not even a query.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import signal
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from re import _constants as _sre_constants  # the parser `re` itself uses (sre_parse before 3.11)
from re import _parser as _sre_parser
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from archive.models import (
    ArchiveEntry,
    EventType,
    Lexicon,
    SamplingRule,
    SupervisionCursor,
    SupervisionDecision,
    SupervisionItem,
)
from archive.selectors import FIELDS, open_entry
from archive.services import archive_access_record
from core.crypto import DecryptionError
from core.errors import ParleyError

# What is checked: new messages (with a shared file's name) and edits (their new text).
SUPERVISED_EVENTS = (EventType.MESSAGE_SENT, EventType.FILE_SHARED, EventType.MESSAGE_EDITED)
# What sampling draws from: messages as sent.
SAMPLED_EVENTS = (EventType.MESSAGE_SENT, EventType.FILE_SHARED)
SCAN_BATCH = 2000
# A step stops after this many batches (about 12 s of checking) so the worker's other jobs take their turn; the
# first run over an existing archive catches up over several steps.
MAX_BATCHES_PER_STEP = 50
# A pattern that still runs this long on one entry is stopped; the entry is flagged for a person to read.
PATTERN_SECONDS = 0.25
MAX_PATTERN_LENGTH = 300


class SupervisionInvalid(ParleyError):
    code = "supervision_invalid"


# ---- patterns: refused when they could backtrack catastrophically, and run with a time limit ----------------

_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT}
_POSSESSIVE = getattr(_sre_constants, "POSSESSIVE_REPEAT", None)
_REFUSED_OPS = {
    _sre_constants.GROUPREF,
    _sre_constants.GROUPREF_EXISTS,
    getattr(_sre_constants, "GROUPREF_IGNORE", None),
}


def pattern_refusal(pattern: str) -> str | None:
    """Why a lexicon pattern is refused, or None when it may be used.

    Python's `re` backtracks, and a pattern with a repeated part that itself repeats (`(a+)+`), or that offers
    alternatives under a repetition (`(a|ab)*`), can take exponential time on a crafted message: such shapes
    are refused here, before they are saved, along with back-references. What remains can still be slow
    (polynomially, `.*.*.*x`), so the worker also stops any pattern after PATTERN_SECONDS (`pattern_search`).
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"A pattern is at most {MAX_PATTERN_LENGTH} characters."
    try:
        parsed = _sre_parser.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as error:
        return f"Not a regular expression: {error}."
    return _walk(list(parsed), under_repeat=False)


def _walk(items: Iterable, *, under_repeat: bool) -> str | None:
    for op, argument in items:
        if op in _REFUSED_OPS:
            return "Back-references are not allowed in a pattern."
        if op in _REPEATS or (_POSSESSIVE is not None and op == _POSSESSIVE):
            _low, high, body = argument
            repeats = high > 1  # unbounded is MAXREPEAT, a large number
            if repeats and under_repeat:
                return "Nested repetition (like (a+)+) can take exponential time and is not allowed."
            refusal = _walk(list(body), under_repeat=under_repeat or repeats)
        elif op is _sre_constants.BRANCH:
            if under_repeat:
                return (
                    "Alternatives under a repetition (like (a|ab)*) can take exponential time; list them as "
                    "separate patterns or words."
                )
            refusal = next(filter(None, (_walk(list(branch), under_repeat=False) for branch in argument[1])), None)
        elif op is _sre_constants.SUBPATTERN:
            refusal = _walk(list(argument[-1]), under_repeat=under_repeat)
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            refusal = _walk(list(argument[1]), under_repeat=under_repeat)
        elif getattr(_sre_constants, "ATOMIC_GROUP", None) is not None and op == _sre_constants.ATOMIC_GROUP:
            refusal = _walk(list(argument), under_repeat=under_repeat)
        else:
            refusal = None
        if refusal:
            return refusal
    return None


class PatternTimeout(Exception):
    """A pattern ran longer than allowed on one text."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise PatternTimeout in the middle of a long match. `re` checks for signals while it backtracks, so a
    SIGALRM timer interrupts it; signals reach only the main thread, where the worker runs. Elsewhere (a test
    thread, a web request) there is no timer and the static refusal is the guard."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise PatternTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pattern_search(pattern: re.Pattern, text: str, *, seconds: float | None = None) -> re.Match | None:
    """The first match of a lexicon pattern in `text`, or PatternTimeout after `seconds` (PATTERN_SECONDS)."""
    with _time_limit(seconds or PATTERN_SECONDS):
        return pattern.search(text)


# ---- matching ---------------------------------------------------------------------------------------------

WORD = re.compile(r"\w+")


def normalized(text: str) -> str:
    """Case folded, accents removed: "Garantía" and "GARANTIA" read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words_of(text: str) -> list[str]:
    return WORD.findall(normalized(text))


def lexicon_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class CompiledLexicon:
    """A lexicon ready to match: whom it applies to (None: everyone) and its terms, normalized."""

    lexicon: Lexicon
    people: set[int] | None
    words: dict[str, str] = field(default_factory=dict)  # normalized -> as written
    prefixes: list[tuple[str, str]] = field(default_factory=list)
    phrases: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    patterns: list[tuple[re.Pattern, str]] = field(default_factory=list)

    def terms_in(self, text: str, words: list[str]) -> list[str]:
        """The terms of this lexicon `text` contains (its words given, normalized), as the lexicon writes them."""
        found: list[str] = []
        present = set(words)
        found += [written for word, written in self.words.items() if word in present]
        found += [written for prefix, written in self.prefixes if any(word.startswith(prefix) for word in present)]
        for phrase, written in self.phrases:
            size = len(phrase)
            if any(tuple(words[index : index + size]) == phrase for index in range(len(words) - size + 1)):
                found.append(written)
        for pattern, written in self.patterns:
            try:
                match = pattern_search(pattern, text)
            except PatternTimeout:
                found.append(f"/{written}/ (stopped after {PATTERN_SECONDS} s: read it)")
                continue
            if match:
                found.append(f"/{written}/: {match.group(0)}")
        return found


def lexicons_compiled() -> list[CompiledLexicon]:
    """Every active lexicon, ready to match (three queries, however many lexicons)."""
    lexicons = list(Lexicon.objects.filter(is_active=True).prefetch_related("people", "groups"))
    group_ids = {group.pk for lexicon in lexicons for group in lexicon.groups.all()}
    members: dict[int, set[int]] = {}
    for user_id, group_id in User.groups.through.objects.filter(group_id__in=group_ids).values_list(
        "user_id", "group_id"
    ):
        members.setdefault(group_id, set()).add(user_id)
    compiled = []
    for lexicon in lexicons:
        people = {person.pk for person in lexicon.people.all()}
        groups = [group.pk for group in lexicon.groups.all()]
        for group_id in groups:
            people |= members.get(group_id, set())
        scoped = CompiledLexicon(lexicon=lexicon, people=people if (people or groups) else None)
        for word in lexicon_lines(lexicon.words):
            key = normalized(word)
            tokens = words_of(word)
            if key.endswith("*") and len(tokens) == 1:
                scoped.prefixes.append((tokens[0], word))
            elif len(tokens) == 1:
                scoped.words[tokens[0]] = word
            elif tokens:  # "risk-free" is two words to the tokenizer: matched as the phrase "risk free"
                scoped.phrases.append((tuple(tokens), word))
        for phrase in lexicon_lines(lexicon.phrases):
            tokens = tuple(words_of(phrase))
            if tokens:
                scoped.phrases.append((tokens, phrase))
        for source in lexicon_lines(lexicon.patterns):
            if pattern_refusal(source) is None:  # saved before the check existed, or behind the form's back
                scoped.patterns.append((re.compile(source, re.IGNORECASE), source))
        compiled.append(scoped)
    return compiled


def supervised_text(event_type: str, content: dict[str, Any]) -> str | None:
    """The text of an entry supervision reads: a message's body and its file's name, an edit's new text."""
    if event_type == EventType.MESSAGE_EDITED:
        return str(content.get("new") or "")
    if event_type in SAMPLED_EVENTS:
        name = (content.get("file") or {}).get("name") or ""
        return "\n".join(part for part in (str(content.get("body") or ""), name) if part)
    return None


# ---- the worker's step --------------------------------------------------------------------------------------


@dataclass
class StepReport:
    checked: int = 0
    flagged: int = 0
    sampled: int = 0
    unopenable: int = 0
    days_sampled: list[date] = field(default_factory=list)


def supervision_step(*, now: datetime | None = None, seed: str | None = None) -> StepReport:
    """Check every archive entry written since the last step against the lexicons, then draw the sample of
    each day that has ended. Idempotent: items are unique per (entry, lexicon) and per sampled entry."""
    now = now or timezone.now()
    report = StepReport()
    for _ in range(MAX_BATCHES_PER_STEP):
        if not supervision_scan(report=report, now=now):
            break
    else:
        return report  # not caught up (the first run over a large archive): sample once every entry is checked
    supervision_sample_due(report=report, now=now, seed=seed)
    return report


def supervision_scan(*, report: StepReport, now: datetime, batch: int | None = None) -> bool:
    """Check one batch of entries after the high-water mark; whether there may be more.

    Why a high-water mark and not a hook on the send path: the send must not pay for checking (the pinned query
    count proves it), and a crash between commit and check cannot lose an entry, since the mark only moves in
    the transaction that writes the items. Entry ids are taken at insert but become visible at commit, so an id
    below the mark may show up late: ids missing when a batch is read are remembered and looked for again for
    PARLEY_SUPERVISION_GAP_SECONDS (longer than any archive transaction; after that it was a rolled-back insert).
    """
    batch = batch or SCAN_BATCH
    with transaction.atomic():
        cursor, _ = SupervisionCursor.objects.select_for_update().get_or_create(pk=1)  # one worker at a time
        expiry = now - timedelta(seconds=settings.PARLEY_SUPERVISION_GAP_SECONDS)
        pending = {pk: seen for pk, seen in cursor.pending if datetime.fromisoformat(seen) > expiry}
        rows = list(
            ArchiveEntry.objects.filter(pk__gt=cursor.checked_through).order_by("pk").values_list(*FIELDS)[:batch]
        )
        if pending:
            rows += ArchiveEntry.objects.filter(pk__in=list(pending)).values_list(*FIELDS)
        lexicons = lexicons_compiled() if rows else []
        items = []
        for row in rows:
            pending.pop(row[0], None)
            report.checked += 1
            if row[4] not in SUPERVISED_EVENTS or not lexicons:
                continue
            items += _items_for(row, lexicons, report)
        SupervisionItem.objects.bulk_create(items, ignore_conflicts=True)
        report.flagged += len(items)
        new_ids = sorted(row[0] for row in rows if row[0] > cursor.checked_through)
        if new_ids:
            seen_at = now.isoformat()
            present = set(new_ids)
            for missing in range(cursor.checked_through + 1, new_ids[-1]):
                if missing not in present:
                    pending[missing] = seen_at
            cursor.checked_through = new_ids[-1]
        cursor.pending = sorted([pk, seen] for pk, seen in pending.items())
        cursor.save()
    return len(new_ids) == batch


def _items_for(row: tuple, lexicons: list[CompiledLexicon], report: StepReport) -> list[SupervisionItem]:
    try:
        entry = open_entry(row)
    except (DecryptionError, ValueError, KeyError):
        report.unopenable += 1  # verify_archive names it; nothing here can read it
        return []
    text = supervised_text(entry.event_type, entry.content)
    if not text:
        return []
    words = words_of(text)
    items = []
    for lexicon in lexicons:
        if lexicon.people is not None and entry.actor_id not in lexicon.people:
            continue
        terms = lexicon.terms_in(text, words)
        if terms:
            items.append(
                SupervisionItem(
                    kind=SupervisionItem.Kind.LEXICON,
                    lexicon=lexicon.lexicon,
                    risk=lexicon.lexicon.risk,
                    matched=json.dumps(terms, ensure_ascii=False),
                    **_entry_fields(
                        entry.pk,
                        entry.conversation_id,
                        entry.message_id,
                        entry.actor_id,
                        entry.event_type,
                        entry.occurred_at,
                    ),
                )
            )
    return items


def _entry_fields(
    pk: int, conversation_id: int, message_id: int | None, actor_id: int | None, event_type: str, occurred_at: datetime
) -> dict[str, Any]:
    return {
        "entry_id": pk,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "actor_id": actor_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
    }


# ---- sampling ---------------------------------------------------------------------------------------------


def supervision_sample_due(*, report: StepReport, now: datetime, seed: str | None = None) -> None:
    """Sample every day that ended (and whose late entries had time to commit) since the last day sampled; on
    the first run, yesterday only."""
    grace = timedelta(seconds=settings.PARLEY_SUPERVISION_GAP_SECONDS)
    last_due = timezone.localdate(now - grace) - timedelta(days=1)
    with transaction.atomic():
        # The cursor's row lock: a second worker waits, then finds the day sampled, rather than draw it again.
        cursor, _ = SupervisionCursor.objects.select_for_update().get_or_create(pk=1)
        day = cursor.sampled_through + timedelta(days=1) if cursor.sampled_through else last_due
        while day <= last_due:
            report.sampled += supervision_sample(day=day, seed=seed)
            report.days_sampled.append(day)
            day += timedelta(days=1)


def sampling_percent_for(actor_ids: Iterable[int]) -> dict[int, float]:
    """Each person's share to sample: their own rule, else the largest of their groups' rules, else the default
    (0 without any rule). Three queries."""
    rules = list(SamplingRule.objects.all())
    default = next((float(rule.percent) for rule in rules if not rule.person_id and not rule.group_id), 0.0)
    by_person = {rule.person_id: float(rule.percent) for rule in rules if rule.person_id}
    by_group = {rule.group_id: float(rule.percent) for rule in rules if rule.group_id}
    actor_ids = set(actor_ids)
    from_groups: dict[int, float] = {}
    for user_id, group_id in User.groups.through.objects.filter(
        group_id__in=by_group, user_id__in=actor_ids
    ).values_list("user_id", "group_id"):
        from_groups[user_id] = max(from_groups.get(user_id, 0.0), by_group[group_id])
    return {actor: by_person.get(actor, from_groups.get(actor, default)) for actor in actor_ids}


def supervision_sample(*, day: date, seed: str | None = None) -> int:
    """Draw each person's share of their unflagged messages of `day` (server time zone) into the queue; how many.

    The share is rounded up (someone who sent three messages under a 10% rule still has one read). The draw is
    random per person and day; with a seed (PARLEY_SUPERVISION_SAMPLE_SEED, for tests) it is repeatable.
    Streams one person at a time, ordered by person, so a busy day costs no more memory than its busiest person.
    """
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    flagged = SupervisionItem.objects.filter(entry_id=OuterRef("pk"))
    entries = (
        ArchiveEntry.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, event_type__in=SAMPLED_EVENTS, actor_id__isnull=False
        )
        .exclude(Exists(flagged))
        .order_by("actor_id", "pk")
    )
    actors = list(entries.values_list("actor_id", flat=True).distinct().order_by("actor_id"))
    percents = sampling_percent_for(actors)
    seed = seed if seed is not None else (settings.PARLEY_SUPERVISION_SAMPLE_SEED or None)
    columns = ("pk", "conversation_id", "message_id", "actor_id", "event_type", "occurred_at")
    drawn = 0
    with transaction.atomic():
        for actor_id, rows in _by_actor(entries.values_list(*columns).iterator(chunk_size=SCAN_BATCH)):
            share = percents.get(actor_id, 0.0)
            count = math.ceil(len(rows) * share / 100)
            if not count:
                continue
            seeded = random.Random(f"{seed}:{day.isoformat()}:{actor_id}")  # noqa: S311 (tests only)
            draw = seeded if seed else random.SystemRandom()
            chosen = draw.sample(rows, count)
            SupervisionItem.objects.bulk_create(
                [
                    SupervisionItem(kind=SupervisionItem.Kind.SAMPLE, risk="low", matched="[]", **_entry_fields(*row))
                    for row in chosen
                ],
                ignore_conflicts=True,
            )
            drawn += count
        SupervisionCursor.objects.update_or_create(pk=1, defaults={"sampled_through": day})
    return drawn


def _by_actor(rows: Iterator[tuple]) -> Iterator[tuple[int, list[tuple]]]:
    current, batch = None, []
    for row in rows:
        if row[3] != current and batch:
            yield current, batch
            batch = []
        current = row[3]
        batch.append(row)
    if batch:
        yield current, batch


# ---- the queue ----------------------------------------------------------------------------------------------

OPEN = "open"
SUPERVISE_PERMISSION = "archive.view_supervisionitem"


def supervision_queue() -> QuerySet[SupervisionItem]:
    """Every item with its state: the latest decision's outcome, or "open" while nobody decided."""
    latest = SupervisionDecision.objects.filter(item=OuterRef("pk")).order_by("-decided_at", "-pk")
    return SupervisionItem.objects.select_related("lexicon").annotate(
        state=Coalesce(Subquery(latest.values("outcome")[:1]), Value(OPEN)),
        escalated_to_id=Subquery(latest.values("escalated_to")[:1]),
    )


def items_escalated_to(items: QuerySet[SupervisionItem], *, officer: User) -> QuerySet[SupervisionItem]:
    """Items whose latest decision escalated them to `officer`: what waits on them."""
    return items.filter(state=SupervisionDecision.Outcome.ESCALATED, escalated_to_id=officer.pk)


def supervision_overdue_since(now: datetime | None = None) -> datetime:
    """Items flagged before this and still undecided are overdue."""
    return (now or timezone.now()) - timedelta(days=settings.PARLEY_SUPERVISION_REVIEW_DAYS)


def items_overdue(items: QuerySet[SupervisionItem], *, now: datetime | None = None) -> QuerySet[SupervisionItem]:
    return items.filter(state=OPEN, flagged_at__lt=supervision_overdue_since(now))


def items_of_group(items: QuerySet[SupervisionItem], *, group: Group) -> QuerySet[SupervisionItem]:
    return items.filter(actor_id__in=User.groups.through.objects.filter(group=group).values("user_id"))


def item_matched_terms(item: SupervisionItem) -> list[str]:
    try:
        return json.loads(item.matched or "[]")
    except (DecryptionError, ValueError):
        return ["(sealed terms that do not open: run verify_archive)"]


def officers() -> QuerySet[User]:
    """Who an item may be escalated to: active compliance officers and superusers."""
    from accounts import roles

    officer = Q(is_superuser=True) | Q(groups__name=roles.COMPLIANCE_OFFICERS)
    return User.objects.filter(officer, is_active=True).distinct().order_by("username")


def supervision_decide(
    *,
    items: Iterable[SupervisionItem],
    by: User,
    outcome: str,
    comment: str,
    escalated_to: User | None = None,
) -> list[SupervisionDecision]:
    """Record one decision per item (bulk decisions are the same call), and that it was made, in the audit log.

    Nothing is ever changed: a second decision on an item is a new row, and the latest is the item's state.
    """
    items = list(items)
    comment = comment.strip()
    if not items:
        raise SupervisionInvalid("Choose at least one item.")
    if outcome not in SupervisionDecision.Outcome.values:
        raise SupervisionInvalid(f"{outcome!r} is not a decision: reviewed, escalated or false_positive.")
    if not comment:
        raise SupervisionInvalid("Say why, in a comment: it is the record of this review.")
    if outcome == SupervisionDecision.Outcome.ESCALATED:
        if escalated_to is None or not officers().filter(pk=escalated_to.pk).exists():
            raise SupervisionInvalid("Escalate to a named compliance officer.")
    elif escalated_to is not None:
        raise SupervisionInvalid("Only an escalation names an officer.")
    with transaction.atomic():
        decisions = SupervisionDecision.objects.bulk_create(
            SupervisionDecision(item=item, outcome=outcome, comment=comment, escalated_to=escalated_to, decided_by=by)
            for item in items
        )
        archive_access_record(
            user=by,
            action="supervision_decision",
            details={
                "items": [item.pk for item in items],
                "outcome": outcome,
                "escalated_to": escalated_to.get_username() if escalated_to else None,
            },
        )
    return decisions


# ---- evidence -----------------------------------------------------------------------------------------------

DECISION_COLUMNS = (
    "decision",
    "decided_at",
    "decided_by",
    "outcome",
    "escalated_to",
    "comment",
    "item",
    "kind",
    "lexicon",
    "risk",
    "flagged_at",
    "entry",
    "entry_hash",
    "conversation",
    "message",
    "author",
    "occurred_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def supervision_decisions_csv(*, out: IO[str], decisions: QuerySet[SupervisionDecision]) -> int:
    """Write decisions as CSV evidence of supervision, each tied to its archive entry by the entry's hash; how many.

    A cell that a spreadsheet would run as a formula (a comment starting with "=") is written with a leading
    apostrophe. Streamed in chunks: two lookups per chunk, whatever its size.
    """
    writer = csv.writer(out)
    writer.writerow(DECISION_COLUMNS)
    rows = decisions.select_related("item__lexicon", "decided_by", "escalated_to").order_by("decided_at", "pk")
    written = 0
    chunk: list[SupervisionDecision] = []
    for decision in rows.iterator(chunk_size=SCAN_BATCH):
        chunk.append(decision)
        if len(chunk) == SCAN_BATCH:
            written += _write_chunk(writer, chunk)
            chunk = []
    written += _write_chunk(writer, chunk)
    return written


def _write_chunk(writer: Any, chunk: list[SupervisionDecision]) -> int:
    hashes = dict(ArchiveEntry.objects.filter(pk__in={d.item.entry_id for d in chunk}).values_list("pk", "entry_hash"))
    authors = dict(User.objects.filter(pk__in={d.item.actor_id for d in chunk}).values_list("pk", "username"))
    for decision in chunk:
        item = decision.item
        row = (
            decision.pk,
            decision.decided_at.isoformat(),
            decision.decided_by.get_username(),
            decision.outcome,
            decision.escalated_to.get_username() if decision.escalated_to else "",
            decision.comment,
            item.pk,
            item.kind,
            item.lexicon.name if item.lexicon else "",
            item.risk,
            item.flagged_at.isoformat(),
            item.entry_id,
            hashes.get(item.entry_id, "(purged)"),
            item.conversation_id,
            item.message_id or "",
            authors.get(item.actor_id, f"user {item.actor_id}" if item.actor_id else ""),
            item.occurred_at.isoformat(),
        )
        writer.writerow([_cell(value) for value in row])
    return len(chunk)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
