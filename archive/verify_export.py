#!/usr/bin/env python3
"""Verify a Parley archive export without the server: `python3 verify_export.py EXPORT.jsonl PUBLIC_KEY_HEX`.

Needs only Python 3.11+ and the `cryptography` package. Checks, for an export of format /2:
- the manifest (the last line) is signed by the given Ed25519 public key, and the SHA-256 of every line before
  it, of each part (header, entries, files, checkpoints, people, public keys), the query in the header and the
  counts are the ones it signed: no line was added, removed, changed or moved;
- every entry's SHA-256 hash matches its canonical form, and its `in_range` mark matches its time and the
  header's range;
- each entry or stub links to the one before it (or, after a retention purge, the export's purge record names
  the removed range and both hashes around it); a chain starts at position 1, or after a cut a purge record
  vouches for, or (in an export of a date range) with an entry in the range, whose `prev` stands for the entry
  before it;
- every checkpoint is signed by the given key and follows the one before it (and there is at least one), every
  chain head a checkpoint sealed is the entry or stub found at that position, and no chain ends before a
  position a checkpoint sealed (a dropped tail); the manifest rests on the last checkpoint;
- every file shared in the range is there, byte for byte the file its entry (and so the entry's hash) names;
- every person an entry names is in the people section, and a person shown "as of" an event is who that event's
  entry sealed.
Stubs (entries past the range: place and hashes, no content) cannot be recomputed; the checkpoint seals their
head and the manifest seals them. Exit status 0 means the export is intact. Deliberately free of Django and of
Parley's own modules: an auditor can read all of it.
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
# Which part of the manifest each kind of line belongs to (a line's first key says its kind).
PART_OF = {
    "header": "header",
    "entry": "entries",
    "stub": "entries",
    "file": "files",
    "checkpoint": "checkpoints",
    "people": "people",
    "public_keys": "public_keys",
}


def canonical(entry: dict) -> bytes:
    document = {
        "v": 1,
        "conversation": entry["conversation"],
        "position": entry["position"],
        "prev": entry["prev"],
        "event": entry["event"],
        "actor": entry["actor"],
        "at": moment(entry["at"]).isoformat(timespec="microseconds"),
        "participants": sorted(entry["participants"]),
        "message": entry["message"],
        "content": entry["content"],
        "salt": entry["salt"],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def moment(text: str) -> datetime:
    """An ISO 8601 time in UTC (one without a zone is taken as UTC)."""
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def verify(lines: list[str], public_key_hex: str) -> list[str]:
    public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    lines = [line.rstrip("\r\n") for line in lines]
    records: list[dict] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            return [f"line {number} is not JSON: the export is damaged"]
        if not isinstance(record, dict) or not record:
            return [f"line {number} is not a record: the export is damaged"]
        records.append(record)
    try:
        problems = manifest_problems(lines, records, public_key)
        body = [record for record in records if "manifest" not in record]
        header = next((record["header"] for record in body if "header" in record), None)
        if header is None:
            problems.append("the export has no header")
            header = {}
        return problems + chain_problems(body, header, public_key)
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a field missing or of the wrong kind
        return [f"the export is malformed ({type(error).__name__}: {error})"]


def manifest_problems(lines: list[str], records: list[dict], public_key: Ed25519PublicKey) -> list[str]:
    """The last line is a manifest signed by the key, and the export is what it signed."""
    if not records or "manifest" not in records[-1]:
        if any("manifest" in record for record in records):
            return ["the manifest is not the export's last line: lines were added after it"]
        return ["the export carries no manifest: nothing signed says what the export holds"]
    if sum("manifest" in record for record in records) > 1:
        return ["the export carries more than one manifest"]
    signed = records[-1]["manifest"]
    document = signed["document"].encode()
    try:
        public_key.verify(bytes.fromhex(signed["signature"]), document)
    except (InvalidSignature, ValueError):
        return ["the manifest's signature is not valid for this public key"]
    manifest = json.loads(document)
    problems = []
    whole = hashlib.sha256()
    parts = {part: hashlib.sha256() for part in set(PART_OF.values())}
    for line, record in zip(lines[:-1], records[:-1], strict=True):
        whole.update((line + "\n").encode())
        kind = next(iter(record))
        if kind in PART_OF:
            parts[PART_OF[kind]].update((line + "\n").encode())
        else:
            problems.append(f"a line the export format does not have: {kind!r}")
    for part, digest in sorted(parts.items()):
        if manifest["sha256"].get(part) != digest.hexdigest():
            problems.append(f"the export's {part} are not what the manifest signed (lines added, removed or changed)")
    if manifest["sha256"].get("export") != whole.hexdigest():
        problems.append("the export's lines are not what the manifest signed (added, removed, changed or moved)")
    header = next((record["header"] for record in records if "header" in record), {})
    for field, signed_value in manifest["query"].items():
        if header.get(field) != signed_value:
            problems.append(f"the header's {field} is not the query the manifest signed ({signed_value!r})")
    if header.get("format") != manifest["format"]:
        problems.append("the header's format is not the one the manifest signed")
    counts = {
        "entries": sum("entry" in record for record in records),
        "in_range": sum(bool(record.get("in_range")) for record in records if "entry" in record),
        "stubs": sum("stub" in record for record in records),
        "files": sum("file" in record for record in records),
        "checkpoints": sum("checkpoint" in record for record in records),
        "people": sum(len(record["people"]) for record in records if "people" in record),
    }
    for name, count in counts.items():
        if manifest["counts"].get(name) != count:
            problems.append(f"the export has {count} {name}, the manifest signed {manifest['counts'].get(name)}")
    checkpoints = [record["checkpoint"] for record in records if "checkpoint" in record]
    rests_on = manifest["checkpoint"]
    if not checkpoints or (checkpoints[-1]["id"], checkpoints[-1]["document_hash"]) != (
        rests_on["id"],
        rests_on["document_hash"],
    ):
        problems.append(f"the manifest rests on checkpoint {rests_on['id']}, which is not the export's last checkpoint")
    return problems


def chain_problems(records: list[dict], header: dict, public_key: Ed25519PublicKey) -> list[str]:
    problems: list[str] = []
    since = moment(header["since"]) if header.get("since") else None
    until = moment(header["until"]) if header.get("until") else None
    hashes: dict[tuple[int, int], str] = {}
    last: dict[int, tuple[int, str]] = {}
    # Where each chain starts, judged once every purge record is read: (position, prev, in range).
    starts: dict[int, tuple[int, str, bool]] = {}
    purges: dict[int, list[dict]] = {}
    # Cuts inside a chain (a later retention purge after a purge record, which stays): a purge record anywhere
    # in the export must vouch for both ends, so they are judged once everything is read.
    gaps: list[tuple[int, int, str, int, str]] = []
    files_owed: dict[tuple[int, int], str] = {}  # in-range file-sharing entries -> the file's SHA-256
    named: set[int] = set()  # everyone an entry names
    sealed_people: dict[int, tuple[tuple[str, int, int], dict]] = {}  # person -> latest event that sealed them
    people: dict[str, dict] = {}
    checkpoints = []
    for record in records:
        if "entry" in record or "stub" in record:
            entry = record.get("entry") or record["stub"]
            key = (entry["conversation"], entry["position"])
            previous = last.get(entry["conversation"])
            if "entry" in record:
                if hashlib.sha256(canonical(entry)).hexdigest() != entry["hash"]:
                    problems.append(f"conversation {key[0]} position {key[1]}: content does not match its hash")
                at = moment(entry["at"])
                in_range = (since is None or at >= since) and (until is None or at <= until)
                if record.get("in_range") is not in_range:
                    problems.append(
                        f"conversation {key[0]} position {key[1]}: marked in_range {record.get('in_range')}, but "
                        f"its time is {'inside' if in_range else 'outside'} the header's range"
                    )
                if entry["event"] == "purge":
                    purges.setdefault(entry["conversation"], []).append(entry["content"])
                if entry["event"] == "file_shared" and record.get("in_range"):
                    files_owed[key] = entry["content"]["file"]["sha256"]
                named.update(entry["participants"])
                if entry["actor"] is not None:
                    named.add(entry["actor"])
                when = (entry["at"], key[0], key[1])
                for person, identity in (entry["content"].get("people") or {}).items():
                    if int(person) not in sealed_people or sealed_people[int(person)][0] < when:
                        sealed_people[int(person)] = (when, identity)
            if previous is None:
                starts[key[0]] = (key[1], entry["prev"], "entry" in record and bool(record.get("in_range")))
            elif previous[0] + 1 < entry["position"]:
                gaps.append((key[0], previous[0], previous[1], key[1], entry["prev"]))
            elif previous[0] + 1 != entry["position"] or previous[1] != entry["prev"]:
                problems.append(f"conversation {key[0]} position {key[1]}: does not follow the entry before it")
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
        elif "people" in record:
            people = record["people"]

    def vouched(conversation: int, kept: int, kept_hash: str, position: int, prev: str) -> bool:
        """A purge record in the export names the removed range (kept+1 .. position-1) and both hashes."""
        return any(
            purge.get("from_position") == kept + 1
            and purge.get("to_position") == position - 1
            and purge.get("first_prev_hash") == kept_hash
            and purge.get("last_purged_hash") == prev
            for purge in purges.get(conversation, [])
        )

    for conversation, kept, kept_hash, position, prev in gaps:
        if not vouched(conversation, kept, kept_hash, position, prev):
            problems.append(f"conversation {conversation} position {position}: does not follow the entry before it")
    for conversation, (position, prev, in_range) in sorted(starts.items()):
        if position == 1 and prev != GENESIS:
            problems.append(f"conversation {conversation}: the first entry does not start the chain")
        elif position > 1 and not vouched(conversation, 0, GENESIS, position, prev) and not (in_range and since):
            problems.append(
                f"conversation {conversation}: starts at position {position}, neither at 1, nor after a cut a "
                "purge record vouches for, nor with an entry in the requested range"
            )
    for conversation, position in files_owed:
        problems.append(f"conversation {conversation} position {position}: the shared file is not in the export")
    problems += checkpoint_problems(checkpoints, hashes, last, public_key)
    for person in sorted(named - {int(key) for key in people}):
        problems.append(f"person {person}: named by an entry, missing from the people section")
    for person, shown in people.items():
        if shown.get("as_of") == "export":
            continue  # the account as it was at export: informational, covered by the manifest
        when, identity = sealed_people.get(int(person), (("",), {}))
        if when[0] != shown.get("as_of") or identity != {key: shown.get(key) for key in identity}:
            problems.append(f"person {person}: the people section is not who the entry of {shown.get('as_of')} sealed")
    return problems


def checkpoint_problems(
    checkpoints: list[dict], hashes: dict[tuple[int, int], str], last: dict[int, tuple[int, str]], public_key
) -> list[str]:
    problems = []
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
