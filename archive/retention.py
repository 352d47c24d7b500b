"""Retention and legal holds: what the archive may forget, when, and what it must keep regardless.

`apply_retention` purges, per conversation, the oldest entries whose retention has passed, stopping at the
first entry that must stay (not yet expired, or under an open legal hold). Purge records themselves are never
purged: they are the proof of every cut, so they accumulate and split what a later run removes into ranges.
Each range removed is appended to the chain as a `purge` entry naming the range, the count, the hash the first
removed entry followed and the hash of the last one, which is how verify_archive still checks the chain.

No retention shorter than the regulatory floor (core.regulation) is ever applied: settings refuse to load
with such a default, the services and admin refuse such a policy, and apply_retention checks both again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from archive.models import (
    ENTRY_TABLE,
    PURGE_FUNCTION,
    ArchiveChain,
    ArchiveEntry,
    EventType,
    LegalHold,
    RetentionPolicy,
)
from archive.search_index import entries_unindex
from archive.services import archive_record
from core.regulation import DEFAULT_RETENTION_FLOOR_DAYS, RETENTION_FLOOR_DAYS
from messenger import services
from messenger.models import Conversation

SCAN_CHUNK = 1000


class RetentionBelowFloor(Exception):
    """A retention shorter than the floor reached apply_retention (a row written behind the services' back,
    or settings changed after startup): the run refuses and purges nothing."""


def retention_floor_days() -> int:
    """The floor in force: the code's regulatory minimum, or more if the operator raised it (never less)."""
    return max(RETENTION_FLOOR_DAYS, settings.PARLEY_RETENTION_FLOOR_DAYS)


def floor_days_for(scope: str) -> int:
    """A room's or a group's policy may go down to the floor; the default, which covers everything else, only
    to six years (FINRA 4511(b)), or to a raised floor if that is longer."""
    if scope == RetentionPolicy.Scope.DEFAULT:
        return max(DEFAULT_RETENTION_FLOOR_DAYS, retention_floor_days())
    return retention_floor_days()


# ---- policies and holds -----------------------------------------------------------------------------------


def retention_policy_set(
    *,
    name: str,
    scope: str,
    archive_days: int,
    live_days: int | None = None,
    room: Conversation | None = None,
    group: Group | None = None,
) -> RetentionPolicy:
    """Create or change a policy. No policy may keep the archive for less than the retention floor."""
    floor = floor_days_for(scope)
    if archive_days < floor:
        raise ValidationError(f"Archive retention must be at least {floor} days (the retention floor).")
    if live_days is not None and scope != RetentionPolicy.Scope.ROOM:
        raise ValidationError("Only a room can have a live-chat retention.")
    policy, _ = RetentionPolicy.objects.update_or_create(
        name=name,
        defaults={"scope": scope, "archive_days": archive_days, "live_days": live_days, "room": room, "group": group},
    )
    return policy


def legal_hold_open(
    *,
    by: User,
    case_name: str,
    reason: str,
    users: list[User] = (),
    rooms: list[Conversation] = (),
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> LegalHold:
    with transaction.atomic():
        hold = LegalHold.objects.create(
            case_name=case_name, reason=reason, starts_at=starts_at, ends_at=ends_at, opened_by=by
        )
        hold.users.set(users)
        hold.rooms.set(rooms)
    return hold


def legal_hold_release(*, hold: LegalHold, by: User) -> LegalHold:
    hold.released_by, hold.released_at = by, timezone.now()
    hold.save(update_fields=["released_by", "released_at"])
    return hold


# ---- applying retention -----------------------------------------------------------------------------------


@dataclass
class RetentionReport:
    purged_entries: int = 0
    purged_chains: int = 0
    spared_by_hold: int = 0
    chat_messages_removed: int = 0
    purges: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _Hold:
    user_ids: frozenset[int]
    room_ids: frozenset[int]
    starts_at: datetime | None
    ends_at: datetime | None

    def covers(self, *, conversation_id: int, people: set[int], occurred_at: datetime) -> bool:
        if self.starts_at and occurred_at < self.starts_at:
            return False
        if self.ends_at and occurred_at > self.ends_at:
            return False
        if not self.user_ids and not self.room_ids:
            return True
        return conversation_id in self.room_ids or bool(self.user_ids & people)


class _Rules:
    """Everything apply_retention needs to judge one entry, loaded once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        policies = list(RetentionPolicy.objects.all())
        default = next((p for p in policies if p.scope == RetentionPolicy.Scope.DEFAULT), None)
        self.default_days = default.archive_days if default else settings.PARLEY_RETENTION_DEFAULT_DAYS
        _refuse_below_floor(policies)
        self.room_days = {p.room_id: p.archive_days for p in policies if p.scope == RetentionPolicy.Scope.ROOM}
        group_days = {p.group_id: p.archive_days for p in policies if p.scope == RetentionPolicy.Scope.GROUP}
        self.user_days: dict[int, int] = {}
        for user_id, group_id in User.groups.through.objects.filter(group_id__in=group_days).values_list(
            "user_id", "group_id"
        ):
            self.user_days[user_id] = max(self.user_days.get(user_id, 0), group_days[group_id])
        self.holds = [
            _Hold(
                frozenset(hold.users.values_list("pk", flat=True)),
                frozenset(hold.rooms.values_list("pk", flat=True)),
                hold.starts_at,
                hold.ends_at,
            )
            for hold in LegalHold.objects.filter(released_at__isnull=True)
        ]

    def days_for(self, conversation_id: int, people: set[int]) -> int:
        """The longest policy that applies: default, the room's, and the groups of everyone involved."""
        days = [self.default_days, self.room_days.get(conversation_id, 0)]
        days.extend(self.user_days.get(person, 0) for person in people)
        return max(days)

    def is_held(self, conversation_id: int, people: set[int], occurred_at: datetime) -> bool:
        return any(
            hold.covers(conversation_id=conversation_id, people=people, occurred_at=occurred_at) for hold in self.holds
        )


def _refuse_below_floor(policies: list[RetentionPolicy]) -> None:
    """Defence in depth: settings and services already refuse these; a row or setting that got past them
    anyway must still never shorten what the archive keeps."""
    for policy in policies:
        floor = floor_days_for(policy.scope)
        if policy.archive_days < floor:
            raise RetentionBelowFloor(
                f"Retention policy {policy.name!r} keeps {policy.archive_days} days, below the floor of {floor} "
                f"days; nothing was purged."
            )
    floor = floor_days_for(RetentionPolicy.Scope.DEFAULT)
    if floor > settings.PARLEY_RETENTION_DEFAULT_DAYS:
        raise RetentionBelowFloor(
            f"PARLEY_RETENTION_DEFAULT_DAYS ({settings.PARLEY_RETENTION_DEFAULT_DAYS} days) is below the floor of "
            f"{floor} days; nothing was purged."
        )


def _clock() -> datetime:
    """Now, by the database's clock on PostgreSQL. Its purge function judges ages by that clock and takes ours
    only if it is not ahead (from the application role): an application server whose clock ran a little ahead
    would otherwise see entries expired that the function still keeps, and the run would stop there."""
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def apply_retention(*, now: datetime | None = None) -> RetentionReport:
    """Purge expired archive entries (sparing held ones) and remove messages past a room's live retention.

    Raises RetentionBelowFloor, before touching anything, when any retention in force is below the floor.
    """
    rules = _Rules(now or _clock())
    report = RetentionReport()
    for conversation_id in ArchiveChain.objects.filter(position__gt=0).values_list("pk", flat=True).iterator():
        _purge_chain_prefix(conversation_id, rules, report)
    report.chat_messages_removed = _apply_live_retention(rules.now)
    return report


@dataclass
class _Range:
    """A run of expired entries between purge records: removed together, vouched for by one purge entry."""

    from_position: int
    first_prev_hash: str
    to_position: int = 0
    count: int = 0
    last_hash: str = ""


def _expired_ranges(conversation_id: int, rules: _Rules, report: RetentionReport) -> list[_Range]:
    """The chain's expired prefix, as ranges split by the purge records it contains (those stay)."""
    ranges: list[_Range] = []
    current: _Range | None = None
    entries = ArchiveEntry.objects.filter(conversation_id=conversation_id).order_by("position")
    for position, event_type, actor_id, participants, occurred_at, prev_hash, entry_hash in entries.values_list(
        "position", "event_type", "actor_id", "participants", "occurred_at", "prev_hash", "entry_hash"
    ).iterator(chunk_size=SCAN_CHUNK):
        if event_type == EventType.PURGE:
            # The record of what was deleted is never deleted itself: without it nothing vouches for the cut.
            current = None
            continue
        people = set(participants) | ({actor_id} if actor_id else set())
        if occurred_at + timedelta(days=rules.days_for(conversation_id, people)) > rules.now:
            break
        if rules.is_held(conversation_id, people, occurred_at):
            report.spared_by_hold += 1
            break
        if current is None:
            current = _Range(from_position=position, first_prev_hash=prev_hash)
            ranges.append(current)
        current.to_position, current.count, current.last_hash = position, current.count + 1, entry_hash
    return ranges


def _purge_chain_prefix(conversation_id: int, rules: _Rules, report: RetentionReport) -> None:
    ranges = _expired_ranges(conversation_id, rules, report)
    if not ranges:
        return
    contents = []
    with transaction.atomic():
        chain = ArchiveChain.objects.select_for_update().get(pk=conversation_id)
        participants = list(Conversation.objects.get(pk=chain.pk).memberships.values_list("user_id", flat=True))
        purged_message_ids = []
        for expired in ranges:
            purged_message_ids.extend(
                ArchiveEntry.objects.filter(
                    conversation_id=conversation_id,
                    position__gte=expired.from_position,
                    position__lte=expired.to_position,
                    event_type__in=(EventType.MESSAGE_SENT, EventType.FILE_SHARED),
                ).values_list("message_id", flat=True)
            )
        with connection.cursor() as cursor:
            for expired in ranges:
                if connection.vendor == "postgresql":
                    # The application role cannot delete entries; the owner's function checks the range again
                    # (purge records, retention, holds) and refuses the whole run if this code got it wrong.
                    cursor.execute(
                        f"SELECT {PURGE_FUNCTION}(%s, %s, %s, %s, %s)",
                        [
                            conversation_id,
                            expired.from_position,
                            expired.to_position,
                            rules.days_for(conversation_id, set()),
                            rules.now,
                        ],
                    )
                    continue
                # Elsewhere (SQLite) the tokens of the range go first, as the owner's function does it.
                entries_unindex(
                    entry_ids=ArchiveEntry.objects.filter(
                        conversation_id=conversation_id,
                        position__gte=expired.from_position,
                        position__lte=expired.to_position,
                    )
                    .exclude(event_type=EventType.PURGE)
                    .values_list("pk", flat=True)
                )
                cursor.execute(
                    f"DELETE FROM {ENTRY_TABLE} "  # noqa: S608
                    "WHERE conversation_id = %s AND position >= %s AND position <= %s AND event_type <> %s",
                    [conversation_id, expired.from_position, expired.to_position, EventType.PURGE],
                )
        # What the archive no longer keeps cannot stay in the chat either, files included.
        services.messages_expire(message_ids=purged_message_ids)
        services.attachments_expire(conversation_id=conversation_id, archive_position=ranges[-1].to_position)
        for expired in ranges:
            content = {
                "from_position": expired.from_position,
                "to_position": expired.to_position,
                "count": expired.count,
                "first_prev_hash": expired.first_prev_hash,
                "last_purged_hash": expired.last_hash,
                "retention_days": rules.days_for(conversation_id, set()),
            }
            archive_record(
                event_type=EventType.PURGE,
                conversation_id=conversation_id,
                actor_id=None,
                participants=participants,
                content=content,
            )
            contents.append(content)
    report.purged_entries += sum(expired.count for expired in ranges)
    report.purged_chains += 1
    report.purges.extend({"conversation_id": conversation_id, **content} for content in contents)


def _apply_live_retention(now: datetime) -> int:
    """Rooms with a live-chat retention lose old messages from the chat; their archive entries stay."""
    removed = 0
    for room_id, live_days in RetentionPolicy.objects.filter(live_days__isnull=False).values_list(
        "room_id", "live_days"
    ):
        cutoff = now - timedelta(days=live_days)
        removed += services.messages_expire_before(conversation_id=room_id, cutoff=cutoff)
    return removed


def purge_records() -> dict[int, list[dict]]:
    """conversation id -> the purge entries' contents, for verify_archive (purges are few)."""
    from archive.selectors import entries_in_chain_order_of_type

    records: dict[int, list[dict]] = {}
    for entry in entries_in_chain_order_of_type(EventType.PURGE):
        records.setdefault(entry.conversation_id, []).append(entry.content)
    return records
