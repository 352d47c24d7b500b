"""The canonical form of an archive entry and its hash: what verify_archive and an auditor recompute."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = 1


def canonical_event(
    *,
    conversation_id: int,
    position: int,
    prev_hash: str,
    event_type: str,
    actor_id: int | None,
    occurred_at: datetime,
    participants: list[int],
    message_id: int | None,
    content: dict[str, Any],
    salt: str,
) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces: byte-for-byte the same wherever it is rebuilt."""
    document = {
        "v": FORMAT_VERSION,
        "conversation": conversation_id,
        "position": position,
        "prev": prev_hash,
        "event": event_type,
        "actor": actor_id,
        "at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "participants": sorted(participants),
        "message": message_id,
        "content": content,
        "salt": salt,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()
