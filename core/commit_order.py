"""Announce writes in the order they committed: one turn per key (a conversation), held from before the write
takes its number until its `transaction.on_commit` announcements have gone out.

Why a turn is needed beyond the row lock that numbers the writes (core.counters): that lock is released at
COMMIT, and the announcement runs after it, in the writer's thread. Two senders in one conversation commit
seq 7 then seq 8, and the thread of 8 could reach Redis first whenever the thread of 7 was slower to be
scheduled (one worker's event loop busy, say): every member then saw 8 before 7, then synced for a gap that
was not one. messenger/tests/test_multiworker.py showed it with four senders on two workers.

On PostgreSQL the turn is a session-level advisory lock, so it holds across every worker sharing the
database. It is taken as the transaction's last statement, while the row lock that gave the write its number
is still held, and given back once the commit's announcements are out. So writers take turns in the order of
their numbers, and the work overlaps: while one writer announces, the next runs its transaction and then
waits for the turn, holding the row lock (the one after it waits for that). No deadlock: a turn's holder has
taken every lock it needs, and after COMMIT it holds none but the turn. It costs two queries per write.
Other conversations never wait. SQLite serves one worker: a process-wide lock does the same there.

Open the block outside the outermost transaction: inside one, announcements wait for the outer COMMIT, after
the block would have ended, so a turn opened there is inactive and the caller holding the outer transaction
takes the turn (messenger.files.file_share does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

# pg_advisory_lock(int, int): this namespace in the first key keeps our turns apart from any other advisory
# lock; the second is the key folded into int4 (two keys sharing a turn only wait for each other, harmlessly).
ADVISORY_NAMESPACE = 0x5041524C  # "PARL"
_process_turn = threading.Lock()


class Turn:
    """One writer's place in its key's order; `take` waits for it, the `in_commit_order` block gives it back."""

    def __init__(self, key: int, *, active: bool) -> None:
        self.key = key
        self.active = active
        self.held = False

    def take(self) -> None:
        """Wait until every earlier writer of this key has announced. Call it as the last step of the write
        transaction: the row lock that numbered the write is still held, so the writers queue here in the
        order of their numbers, and the next writer meanwhile waits for that row lock, not for this turn."""
        if not self.active or self.held:
            return
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, self.key % 2**31))
        else:
            _process_turn.acquire()
        self.held = True

    def give_back(self) -> None:
        if not self.held:
            return
        self.held = False
        if connection.vendor != "postgresql":
            _process_turn.release()
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", (ADVISORY_NAMESPACE, self.key % 2**31))
        except DatabaseError:
            connection.close()  # a broken connection: ending its session ends its locks, never a leaked turn
            raise


@contextmanager
def in_commit_order(key: int) -> Iterator[Turn]:
    """Wrap one write transaction and its on_commit announcements; call `turn.take()` as the transaction's last
    step. The turn is given back when the block ends, announcements sent, or on any error."""
    turn = Turn(key, active=not connection.in_atomic_block)
    try:
        yield turn
    finally:
        turn.give_back()
