#!/usr/bin/env python3
"""Verify a Parley archive export without the server: `python3 verify_export.py EXPORT.jsonl PUBLIC_KEY_HEX`.

Needs only Python 3.11+ and the `cryptography` package. Checks that every entry's SHA-256 hash matches its
canonical form, that each entry links to the one before it (or, after a retention purge, that the export's
purge record names the removed range and both hashes around it), that every checkpoint is signed by the given
Ed25519 public key and follows the checkpoint before it (and that there is at least one), that every chain head
a checkpoint sealed is the entry found at that position and that no chain ends before a position a checkpoint
sealed (a dropped tail), and that every file shared in the exported range is there, byte for byte the
file its entry (and so the entry's hash) names by SHA-256. Exit status 0 means the export is intact.
Deliberately free of Django and of Parley's own modules: an auditor can read all of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64


def canonical(entry: dict) -> bytes:
    document = {
        "v": 1,
        "conversation": entry["conversation"],
        "position": entry["position"],
        "prev": entry["prev"],
        "event": entry["event"],
        "actor": entry["actor"],
        "at": datetime.fromisoformat(entry["at"]).astimezone(UTC).isoformat(timespec="microseconds"),
        "participants": sorted(entry["participants"]),
        "message": entry["message"],
        "content": entry["content"],
        "salt": entry["salt"],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify(lines: list[str], public_key_hex: str) -> list[str]:
    problems: list[str] = []
    hashes: dict[tuple[int, int], str] = {}
    last: dict[int, tuple[int, str]] = {}
    purges: dict[int, list[dict]] = {}
    # Cuts inside a chain (a later retention purge after a purge record, which stays): a purge record anywhere
    # in the export must vouch for both ends, so they are judged once everything is read.
    gaps: list[tuple[int, int, str, int, str]] = []
    files_owed: dict[tuple[int, int], str] = {}  # in-range file-sharing entries -> the file's SHA-256
    checkpoints = []
    for line in lines:
        record = json.loads(line)
        if "entry" in record:
            entry = record["entry"]
            key = (entry["conversation"], entry["position"])
            if hashlib.sha256(canonical(entry)).hexdigest() != entry["hash"]:
                problems.append(f"conversation {key[0]} position {key[1]}: content does not match its hash")
            previous = last.get(entry["conversation"])
            if previous is not None and previous[0] + 1 < entry["position"]:
                gaps.append((key[0], previous[0], previous[1], key[1], entry["prev"]))
            elif previous is not None and (previous[0] + 1 != entry["position"] or previous[1] != entry["prev"]):
                problems.append(f"conversation {key[0]} position {key[1]}: does not follow the entry before it")
            if previous is None and entry["position"] == 1 and entry["prev"] != GENESIS:
                problems.append(f"conversation {key[0]}: the first entry does not start the chain")
            if entry["event"] == "purge":
                purges.setdefault(entry["conversation"], []).append(entry["content"])
            if entry["event"] == "file_shared" and record.get("in_range"):
                files_owed[key] = entry["content"]["file"]["sha256"]
            hashes[key] = entry["hash"]
            last[entry["conversation"]] = (entry["position"], entry["hash"])
        elif "file" in record:
            shared = record["file"]
            key = (shared["conversation"], shared["position"])
            expected = files_owed.pop(key, None)
            if expected is None:
                problems.append(f"conversation {key[0]} position {key[1]}: a file no file-sharing entry names")
            elif hashlib.sha256(base64.b64decode(shared["data"])).hexdigest() != expected:
                problems.append(f"conversation {key[0]} position {key[1]}: the file is not the one that was shared")
        elif "checkpoint" in record:
            checkpoints.append(record["checkpoint"])
    for conversation, kept, kept_hash, position, prev in gaps:
        if not any(
            purge.get("from_position") == kept + 1
            and purge.get("to_position") == position - 1
            and purge.get("first_prev_hash") == kept_hash
            and purge.get("last_purged_hash") == prev
            for purge in purges.get(conversation, [])
        ):
            problems.append(f"conversation {conversation} position {position}: does not follow the entry before it")
    for conversation, position in files_owed:
        problems.append(f"conversation {conversation} position {position}: the shared file is not in the export")
    public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    previous_hash = GENESIS
    sealed: dict[int, tuple[int, str]] = {}  # conversation -> the furthest position a valid checkpoint sealed
    if not checkpoints:
        problems.append("the export carries no checkpoint: nothing signed says where its chains end")
    for checkpoint in checkpoints:
        document = checkpoint["document"].encode()
        name = f"checkpoint {checkpoint['id']}"
        if hashlib.sha256(document).hexdigest() != checkpoint["document_hash"]:
            problems.append(f"{name}: document does not match its hash")
            continue
        try:
            public_key.verify(bytes.fromhex(checkpoint["signature"]), document)
        except (InvalidSignature, ValueError):
            problems.append(f"{name}: signature is not valid for this public key")
            continue
        content = json.loads(document)
        if content["prev"] != previous_hash:
            problems.append(f"{name}: does not follow the checkpoint before it")
        for conversation, position, head in content["heads"]:
            found = hashes.get((conversation, position))
            if found is not None and found != head:
                problems.append(f"{name}: conversation {conversation} position {position} changed after sealing")
            if position > sealed.get(conversation, (0, ""))[0]:
                sealed[conversation] = (position, name)
        previous_hash = checkpoint["document_hash"]
    # A chain must reach every position a checkpoint sealed: an export whose last entries were dropped ends short.
    for conversation, (position, name) in sorted(sealed.items()):
        ends_at = last.get(conversation, (0, ""))[0]
        if conversation in last and ends_at < position:
            problems.append(
                f"conversation {conversation}: the export ends at position {ends_at}, before position {position} "
                f"that {name} sealed (its last entries are missing)"
            )
    return problems


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as export:
        problems = verify(export.readlines(), sys.argv[2])
    for problem in problems:
        print(problem)
    print("export intact" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
