"""Checking the archive: every hash, every link, no gaps, and nothing said in the messenger missing from it.

Streams entries in chain order, so memory stays constant however large the archive is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.chain import entry_hash
from archive.checkpoints import CheckpointProblem, checkpoints_verify, outside_copies_verify
from archive.models import GENESIS_HASH, ArchiveChain, ArchiveCheckpoint, ArchiveEntry, EventType
from archive.retention import purge_records
from archive.selectors import OpenedEntry, Unopenable, entries_in_chain_order
from messenger.models import Message


@dataclass(frozen=True)
class Problem:
    conversation_id: int | None
    position: int | None
    # altered, removed, inserted_or_reordered, truncated, missing_entry, checkpoint, rewound, audit_log;
    # not_copied_outside (a warning)
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"conversation {self.conversation_id}, position {self.position}" if self.conversation_id else ""
        return f"{self.kind} at {where}: {self.detail}" if where else f"{self.kind}: {self.detail}"


@dataclass
class VerificationReport:
    entries_checked: int = 0
    chains_checked: int = 0
    messages_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    # Not failures: checkpoints whose outside copy is not written yet (only with a checkpoint directory).
    warnings: list[Problem] = field(default_factory=list)
    # (conversation id, first position, last position) of every cut a purge record vouched for.
    purged: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.problems


def archive_verify(
    *, on_entry: Callable[[], None] | None = None, checkpoint_dir: Path | None = None
) -> VerificationReport:
    """Walk every chain and cross-check the messenger. Records the first problem of each chain.

    With `checkpoint_dir`, the checkpoints' outside copies (archive.outside) are checked against the database
    too: what someone able to write the database could otherwise cut, rewind or delete unseen.
    """
    report = VerificationReport()
    heads = dict(ArchiveChain.objects.values_list("conversation_id", "head_hash"))
    positions = dict(ArchiveChain.objects.values_list("conversation_id", "position"))
    purges = purge_records()
    first_positions: dict[int, int] = {}
    purged_ranges: dict[int, list[tuple[int, int]]] = {}
    current: int | None = None
    previous_hash = GENESIS_HASH
    previous_position = 0
    chain_broken = False

    def close_chain(conversation_id: int) -> None:
        report.chains_checked += 1
        if chain_broken:
            return
        if heads.get(conversation_id) != previous_hash or positions.get(conversation_id) != previous_position:
            report.problems.append(
                Problem(
                    conversation_id,
                    previous_position + 1,
                    "truncated",
                    f"the chain head says {positions.get(conversation_id)} entries; the last one found is "
                    f"position {previous_position}",
                )
            )

    for entry in entries_in_chain_order():
        report.entries_checked += 1
        if on_entry:
            on_entry()
        if entry.conversation_id != current:
            if current is not None:
                close_chain(current)
            current, previous_hash, previous_position, chain_broken = entry.conversation_id, GENESIS_HASH, 0, False
            first_positions[current] = entry.position
            if entry.position > 1 and not isinstance(entry, Unopenable):
                # The chain was purged under retention up to here; a purge record must vouch for the cut.
                for purge in purges.get(current, []):
                    if purge["to_position"] == entry.position - 1 and purge["last_purged_hash"] == entry.prev_hash:
                        previous_hash, previous_position = entry.prev_hash, entry.position - 1
                        report.purged.append((current, purge["from_position"], purge["to_position"]))
                        break
        if chain_broken:
            continue
        if entry.position > previous_position + 1 and previous_position > 0 and not isinstance(entry, Unopenable):
            # A later purge removed a range after an earlier purge record (which stays): its own record must
            # vouch for both ends of the cut.
            purge = _vouching_purge(purges.get(current, []), previous_position, previous_hash, entry)
            if purge is not None:
                purged_ranges.setdefault(current, []).append((purge["from_position"], purge["to_position"]))
                report.purged.append((current, purge["from_position"], purge["to_position"]))
                previous_hash, previous_position = entry.prev_hash, entry.position - 1
        problem = _entry_problem(entry, previous_hash, previous_position)
        if problem is not None:
            report.problems.append(problem)
            chain_broken = True
            continue
        previous_hash, previous_position = entry.entry_hash, entry.position
    if current is not None:
        close_chain(current)
    for conversation_id in sorted(set(heads) - set(_conversations_with_entries())):
        if positions[conversation_id]:
            report.problems.append(Problem(conversation_id, 1, "removed", "the chain has a head but no entries"))
    report.messages_checked = _cross_check_messages(report)
    report.checkpoints_checked = ArchiveCheckpoint.objects.count()
    for problem in checkpoints_verify(first_positions=first_positions, purged_ranges=purged_ranges):
        _add_checkpoint_problem(report, problem)
    if checkpoint_dir is not None:
        for problem in outside_copies_verify(
            directory=checkpoint_dir, first_positions=first_positions, purged_ranges=purged_ranges
        ):
            _add_checkpoint_problem(report, problem)
    return report


def _add_checkpoint_problem(report: VerificationReport, problem: CheckpointProblem) -> None:
    found = Problem(problem.conversation_id, problem.position, problem.kind, str(problem))
    (report.warnings if problem.is_warning else report.problems).append(found)


def _vouching_purge(purges: list[dict], previous_position: int, previous_hash: str, entry: OpenedEntry) -> dict | None:
    """The purge record for exactly the gap before `entry`: from the position after the last entry kept, to the
    one before `entry`, following the kept entry's hash and followed by `entry`."""
    for purge in purges:
        if (
            purge["from_position"] == previous_position + 1
            and purge["to_position"] == entry.position - 1
            and purge.get("first_prev_hash") == previous_hash
            and purge["last_purged_hash"] == entry.prev_hash
        ):
            return purge
    return None


def _entry_problem(entry: OpenedEntry | Unopenable, previous_hash: str, previous_position: int) -> Problem | None:
    where = (entry.conversation_id, entry.position)
    if isinstance(entry, Unopenable):
        return Problem(*where, "altered", f"its sealed content does not open ({entry.reason})")
    if entry_hash(entry.canonical()) != entry.entry_hash:
        return Problem(*where, "altered", "its content no longer matches its hash")
    if entry.position != previous_position + 1:
        missing = f"{previous_position + 1}" + (
            f"..{entry.position - 1}" if entry.position - 1 > previous_position + 1 else ""
        )
        return Problem(*where, "removed", f"position {missing} is missing before it")
    if entry.prev_hash != previous_hash:
        return Problem(*where, "inserted_or_reordered", "it does not follow the entry before it")
    return None


def _conversations_with_entries() -> Iterator[int]:
    yield from ArchiveEntry.objects.values_list("conversation_id", flat=True).distinct().iterator()


def _cross_check_messages(report: VerificationReport) -> int:
    """Every message in the messenger has exactly one message_sent (or file_shared) entry (merge of two sorted
    streams)."""
    messages = Message.objects.order_by("pk").values_list("pk", "conversation_id").iterator(chunk_size=5000)
    archived = (
        ArchiveEntry.objects.filter(event_type__in=(EventType.MESSAGE_SENT, EventType.FILE_SHARED))
        .order_by("message_id")
        .values_list("message_id", flat=True)
        .iterator(chunk_size=5000)
    )
    checked = 0
    archived_ids = _peekable(archived)
    for message_id, conversation_id in messages:
        checked += 1
        while archived_ids.peek() is not None and archived_ids.peek() < message_id:
            next(archived_ids)
        if archived_ids.peek() != message_id:
            report.problems.append(
                Problem(conversation_id, None, "missing_entry", f"message {message_id} has no archive entry")
            )
            continue
        next(archived_ids)
        if archived_ids.peek() == message_id:
            report.problems.append(
                Problem(conversation_id, None, "inserted_or_reordered", f"message {message_id} is archived twice")
            )
    return checked


class _peekable:
    def __init__(self, iterator: Iterator[int]) -> None:
        self._iterator = iterator
        self._head: list[int | None] = []

    def peek(self) -> int | None:
        if not self._head:
            self._head.append(next(self._iterator, None))
        return self._head[0]

    def __next__(self) -> int | None:
        value = self.peek()
        self._head.clear()
        return value
