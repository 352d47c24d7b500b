"""Exports other tools read: Actiance XML, EML, CSV and Parley's own JSON Lines, each as a ZIP with a signed
manifest (docs/compliance.md "Exports for review tools").

Streamed in constant memory: entries come one at a time from a database cursor, are opened, written and
forgotten. A format's main document (the CSV, the XML) is spooled to a temporary file on disk, sealed under a key
only the exporting process holds (`_SealedSpool`: the archive's text never touches the disk in clear), while
shared files go into the ZIP as they come (a ZIP takes one member at a time), and is copied in at the end.
What grows with the export is only per conversation-day (one EML, one <Conversation>, one line of the
manifest) and per person (who they were), never per message: a ZIP keeps a directory entry per member in memory
until it is closed, which is why EML is one message per conversation-day (a multipart/digest of one
message/rfc822 per chat message) rather than a file per chat message.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.policy import SMTP, Compat32
from email.utils import format_datetime, formataddr
from functools import cached_property, lru_cache
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from accounts.models import User
from archive import signing
from archive.checkpoints import archive_checkpoint_create
from archive.export import (
    ExportBlocked,
    PeopleNamed,
    archive_export,
    missing_file,
    refuse_missing_files,
    signed_manifest,
)
from archive.models import EventType
from archive.selectors import FIELDS, STREAM_CHUNK, OpenedEntry, entries_in_range, kept_file, open_entry
from core import crypto
from core.crypto import DecryptionError
from core.sealed_stream import SealedWriter, sealed_chunks
from messenger.models import Conversation

FORMATS = ("jsonl", "eml", "actiance", "csv")
ZIP_FORMAT = "parley-archive-zip/1"
MANIFEST_NAME = "manifest.json"
MESSAGE_EVENTS = (EventType.MESSAGE_SENT, EventType.MESSAGE_EDITED, EventType.MESSAGE_DELETED, EventType.FILE_SHARED)
NO_MAIL_DOMAIN = "users.parley.invalid"  # people without an e-mail address (RFC 2606: never delivered)
ARCHIVE_SENDER = Address("Parley archive", "archive", "parley.invalid")
READABLE_UTF8 = Charset("utf-8")
READABLE_UTF8.body_encoding = QP  # quoted-printable: text stays readable (and greppable) in the file


class _FoldingOnce(Compat32):
    """compat32 with RFC 5322 line endings (like the SMTP policy of the outer message), whose headers come out
    byte for byte as compat32's, only sooner.

    compat32 folds every header through email.header.Header, a general line-breaking algorithm: profiled, it was
    over half of an EML export's time (bench/archive.py, docs/benchmarks.md). Nearly all of a chat message's headers are
    printable ASCII whose folding is known without running it: on one line after "name: " when short enough, or
    alone on the next line when one word too long for the first (the entry's hash), so they are written so. The
    long ones with spaces, which repeat from message to message (To: everyone else in the room), are folded once
    and remembered in a bounded cache. Anything else (a Header object, a value with a tab or a line break) goes
    through compat32 as before. archive/tests/test_formats.py compares the two.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if not isinstance(value, str) or not _is_plain(value):
            return super().fold_binary(name, value)
        if not self.max_line_length or len(name) + 2 + len(value) <= self.max_line_length:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        if " " not in value:  # Header finds no place to break it, and starts a line for it
            return f"{name}: {self.linesep} {value}{self.linesep}".encode("ascii")
        return _folded_by_compat32(self, name, value)


def _is_plain(value: str) -> bool:
    """Printable ASCII (no tab, no line break): a value Header folds only at its spaces, when too long."""
    return value.isascii() and value.isprintable()


@lru_cache(maxsize=256)  # bounded: an export's memory does not grow with its messages
def _folded_by_compat32(policy: Compat32, name: str, value: str) -> bytes:
    return Compat32.fold_binary(policy, name, value)


MIME_CRLF = _FoldingOnce(linesep="\r\n")


def archive_export_zip(
    *,
    out: IO[bytes],
    export_format: str,
    conversation_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_by: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write a ZIP of the entries in the range in `export_format`, and last a manifest signed with the archive's
    key naming every member's SHA-256, the query, the checkpoint sealed first and the people named.

    Refuses (ExportBlocked) before sealing anything if a shared file is missing, and while writing if an entry
    does not open: the caller discards the partial output.
    """
    if export_format not in FORMATS:
        raise ValueError(f"Unknown export format {export_format!r}: one of {', '.join(FORMATS)}")
    refuse_missing_files(conversation_ids, since, until)
    checkpoint = archive_checkpoint_create(reason="export")
    query = {
        "conversations": conversation_ids,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "requested_by": requested_by,
    }
    digests: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if export_format == "jsonl":
            with _member(archive, "export.jsonl", digests) as member:
                text = io.TextIOWrapper(member, encoding="utf-8")
                counts = archive_export(
                    out=text,
                    conversation_ids=conversation_ids,
                    since=since,
                    until=until,
                    requested_by=requested_by,
                    checkpoint=checkpoint,
                    progress=progress,
                )
                text.flush()
                text.detach()
            people = None
        else:
            writer = WRITERS[export_format](archive, digests, since=since, until=until)
            people = PeopleAsOf()
            counts = {"entries": 0, "messages": 0, "files": 0}
            for entry in _entries_in_range(conversation_ids, since, until):
                people.see(entry)
                counts["entries"] += 1
                counts["messages"] += entry.event_type in MESSAGE_EVENTS
                counts["files"] += writer.write(entry, people)
                if progress is not None:
                    progress(1)
            writer.close()
        manifest = {
            "format": ZIP_FORMAT,
            "contains": export_format,
            "query": query,
            "checkpoint": {"id": checkpoint.pk, "document_hash": checkpoint.document_hash},
            "counts": counts,
            "members": dict(sorted(digests.items())),
            "people": people.named.section() if people is not None else "see export.jsonl",
        }
        archive.writestr(MANIFEST_NAME, json.dumps(signed_manifest(manifest), indent=2, ensure_ascii=False))
    return counts


class HashingSink:
    """Hands an export's bytes on to `out` and keeps their count and SHA-256 (what a job or a scheduled run
    records). It has no `tell`, on purpose: zipfile then writes a streaming ZIP, never seeking back, which a
    sealed file (core.sealed_stream) or a remote SFTP file cannot do cheaply."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def zip_export_problems(source: IO[bytes] | str, public_key: str) -> list[str]:
    """What is wrong with an export ZIP (empty: intact): the manifest's signature under `public_key`, and every
    member present with the SHA-256 the manifest names, and no member the manifest does not name."""
    problems = []
    with zipfile.ZipFile(source) as archive:
        try:
            signed = json.loads(archive.read(MANIFEST_NAME))
        except KeyError:
            return [f"no {MANIFEST_NAME} in the ZIP"]
        document = signed["document"].encode()
        if not signing.signature_is_valid(public_key=public_key, document=document, signature=signed["signature"]):
            problems.append("the manifest's signature is not valid for this public key")
        members = json.loads(document)["members"]
        present = set(archive.namelist()) - {MANIFEST_NAME}
        problems += [f"{name} is in the ZIP but not in the manifest" for name in sorted(present - members.keys())]
        for name, expected in members.items():
            if name not in present:
                problems.append(f"{name} is in the manifest but not in the ZIP")
                continue
            digest = hashlib.sha256()
            with archive.open(name) as member:
                for chunk in iter(lambda member=member: member.read(1 << 16), b""):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                problems.append(f"{name} does not match its SHA-256 in the manifest")
    return problems


# ---- reading the range, and who people were -------------------------------------------------------------------


def _entries_in_range(
    conversation_ids: list[int] | None, since: datetime | None, until: datetime | None
) -> Iterator[OpenedEntry]:
    """The entries in the range, conversation by conversation in chain order, opened; streamed."""
    rows = entries_in_range(conversation_ids=conversation_ids, since=since, until=until)
    for row in rows.order_by("conversation_id", "position").values_list(*FIELDS).iterator(chunk_size=STREAM_CHUNK):
        try:
            yield open_entry(row)
        except (DecryptionError, ValueError, KeyError):
            raise ExportBlocked(
                f"Conversation {row[2]} position {row[3]} does not open: run verify_archive. Nothing was exported."
            ) from None


@dataclass(frozen=True)
class Person:
    id: int
    username: str | None
    display_name: str | None
    email: str | None

    @property
    def login(self) -> str:
        """An address for every person: their e-mail, else one under a domain that is never delivered."""
        if self.email:
            return self.email
        return f"{self.username or f'user-{self.id}'}@{NO_MAIL_DOMAIN}"

    @cached_property
    def header(self) -> str:
        """The address as a header value, encoded where the name is not ASCII (formatted once per person)."""
        return formataddr((self.address.display_name, self.login))

    @property
    def address(self) -> Address:
        return Address(self.display_name or self.username or f"user {self.id}", addr_spec=self.login)


class PeopleAsOf:
    """Who each person was at the event being written: the actor as their entry sealed them, anyone else as the
    latest entry written so far sealed them, and a person no entry sealed yet as their account is now (the
    same rule as the JSON Lines export's people section, which `named` builds for the manifest)."""

    def __init__(self) -> None:
        self.named = PeopleNamed()
        self.latest: dict[int, Person] = {}
        self.now: dict[int, Person] = {}

    def see(self, entry: OpenedEntry) -> None:
        self.named.named_by(
            {
                "at": entry.occurred_at.isoformat(timespec="microseconds"),
                "conversation": entry.conversation_id,
                "position": entry.position,
                "participants": entry.participants,
                "actor": entry.actor_id,
                "content": entry.content,
            }
        )
        for person, identity in (entry.content.get("people") or {}).items():
            self.latest[int(person)] = Person(
                id=int(person),
                username=identity.get("username"),
                display_name=identity.get("display_name"),
                email=identity.get("email"),
            )

    def person(self, user_id: int) -> Person:
        known = self.latest.get(user_id) or self.now.get(user_id)
        if known is None:  # one query per person never sealed in the export, then remembered
            row = User.objects.filter(pk=user_id).values_list("username", "display_name", "email").first()
            known = self.now[user_id] = Person(user_id, *(row or (None, None, None)))
        return known


class _ConversationNames:
    """A conversation's name for people: "#name" for a room, "direct: a, b" for a direct chat."""

    def __init__(self) -> None:
        self.names: dict[int, str | None] = {}

    def name(self, entry: OpenedEntry, people: PeopleAsOf) -> str:
        if entry.conversation_id not in self.names:
            conversation = Conversation.objects.filter(pk=entry.conversation_id).values_list("name", flat=True)
            self.names[entry.conversation_id] = conversation.first()
        name = self.names[entry.conversation_id]
        if name:
            return f"#{name}"
        usernames = sorted(people.person(user).username or f"user {user}" for user in entry.participants)
        return "direct: " + ", ".join(usernames)


# ---- writing into the ZIP ---------------------------------------------------------------------------------------


class _HashingWriter(io.RawIOBase):
    def __init__(self, raw: IO[bytes], digest: Any) -> None:
        self.raw, self.digest = raw, digest

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.raw.write(data)
        self.digest.update(data)
        return len(data)


@contextmanager
def _member(archive: zipfile.ZipFile, name: str, digests: dict[str, str]) -> Iterator[IO[bytes]]:
    """A ZIP member written as a stream, its SHA-256 recorded for the manifest."""
    digest = hashlib.sha256()
    with archive.open(name, "w", force_zip64=True) as raw:
        buffered = io.BufferedWriter(_HashingWriter(raw, digest), buffer_size=1 << 16)
        yield buffered
        buffered.flush()
    digests[name] = digest.hexdigest()


# The spools' key: made when the process starts, never written anywhere, so a spool left behind by a crash (or
# read off the disk meanwhile) does not open.
_SPOOL_RING = crypto.KeyRing(primary_id="spool", keys={"spool": os.urandom(crypto.KEY_BYTES)})


class _SealedSpool(io.RawIOBase):
    """A temporary file a format writes its main document into, sealed in chunks (core.sealed_stream) as it
    goes, then copied out in clear into the ZIP member: write-only until `copy_to`, which ends it."""

    def __init__(self) -> None:
        super().__init__()
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._context = f"export-spool:{secrets.token_hex(8)}"
        self._writer = SealedWriter(self._file, context=self._context, ring=_SPOOL_RING)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._writer.write(bytes(data))

    def copy_to(self, target: IO[bytes]) -> None:
        self._writer.close()
        self._file.seek(0)
        for chunk in sealed_chunks(self._file, context=self._context, ring=_SPOOL_RING):
            target.write(chunk)
        self.close()

    def close(self) -> None:
        self._file.close()
        super().close()


def _copy_in(archive: zipfile.ZipFile, name: str, spool: _SealedSpool, digests: dict[str, str]) -> None:
    with _member(archive, name, digests) as member:
        spool.copy_to(member)


def _file_name(entry: OpenedEntry) -> str:
    name = str(entry.content.get("file", {}).get("name") or "file").replace("/", "_").replace("\\", "_")
    return f"files/{entry.conversation_id}/{entry.position}-{name}"


def _shared_file_bytes(entry: OpenedEntry) -> bytes | None:
    """A shared file's bytes (one file in memory at a time), or None if no attachment row is left."""
    attachment = kept_file(conversation_id=entry.conversation_id, content=entry.content)
    if attachment is None:
        return None
    try:
        with attachment.file.open() as stored:
            return stored.read()
    except FileNotFoundError:  # removed after the look before sealing
        raise missing_file(entry.conversation_id, entry.position) from None


def entry_text(entry: OpenedEntry) -> str:
    """What the entry says, for a reader: the message, an edit's new text, a deleted message's text, how a call
    ended, or the summary of another event that is not a message (a game's move: games.services)."""
    content = entry.content
    if entry.event_type == EventType.MESSAGE_EDITED:
        return str(content.get("new", ""))
    if entry.event_type == EventType.CALL_ENDED:  # calls/: who took part is in the entry's people
        return call_ended_text(content)
    return str(content.get("body", "") or content.get("summary", "") or "")


def call_ended_text(content: dict[str, Any]) -> str:
    """How a call ended, its length and whether a screen was shared; or, for a direct call refused because the
    one called was in another call (reason "busy"), who that was, by the name sealed with the entry."""
    if content.get("reason") == "busy":
        people = content.get("people", {})
        called = ", ".join(people.get(str(pk), {}).get("username") or f"user {pk}" for pk in content.get("called", []))
        return f"Call refused (busy): {called or 'the one called'} was in another call"
    shared = ", screen shared" if content.get("screen_shared") else ""
    return f"Call ended ({content.get('reason', '')}): {content.get('duration_seconds', 0)} s{shared}"


def _day_key(entry: OpenedEntry) -> tuple[int, date]:
    return entry.conversation_id, entry.occurred_at.astimezone(UTC).date()


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _text_part(text: str) -> Message:
    """What MIMEText(text, "plain", READABLE_UTF8) builds, headers in the same order, without its cost: MIMEText
    writes its Content-Type, then parses it back to set the charset parameter again (13% of an EML export)."""
    part = Message()
    part["Content-Type"] = 'text/plain; charset="utf-8"'
    part["MIME-Version"] = "1.0"
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(READABLE_UTF8.body_encode(text))
    return part


def _attachment(data: bytes, content_type: str, filename: str) -> Message:
    maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(data)
    encode_base64(part)
    part.add_header(
        "Content-Disposition", "attachment", filename=filename if filename.isascii() else ("utf-8", "", filename)
    )
    return part


class _CsvWriter:
    """messages.csv: one row per entry in range (every event, not only messages), shared files beside it."""

    COLUMNS = (
        "conversation_id",
        "conversation",
        "position",
        "occurred_at",
        "event",
        "actor_id",
        "actor_username",
        "actor_display_name",
        "actor_email",
        "message_id",
        "text",
        "previous_text",
        "file_name",
        "file_sha256",
        "file_in_zip",
        "entry_hash",
    )

    def __init__(self, archive: zipfile.ZipFile, digests: dict[str, str], **_: Any) -> None:
        self.archive, self.digests = archive, digests
        self.spool = _SealedSpool()
        self.text = io.TextIOWrapper(self.spool, encoding="utf-8", newline="")
        self.rows = csv.writer(self.text)
        self.rows.writerow(self.COLUMNS)
        self.names = _ConversationNames()

    def write(self, entry: OpenedEntry, people: PeopleAsOf) -> int:
        actor = people.person(entry.actor_id) if entry.actor_id is not None else None
        shared = entry.content.get("file") if entry.event_type == EventType.FILE_SHARED else None
        in_zip = ""
        if shared:
            data = _shared_file_bytes(entry)
            if data is not None:
                in_zip = _file_name(entry)
                with _member(self.archive, in_zip, self.digests) as member:
                    member.write(data)
        self.rows.writerow(
            (
                entry.conversation_id,
                self.names.name(entry, people),
                entry.position,
                entry.occurred_at.isoformat(timespec="microseconds"),
                entry.event_type,
                entry.actor_id if entry.actor_id is not None else "",
                actor.username if actor else "",
                actor.display_name if actor else "",
                actor.login if actor else "",
                entry.message_id if entry.message_id is not None else "",
                entry_text(entry),
                entry.content.get("old", "") if entry.event_type == EventType.MESSAGE_EDITED else "",
                shared.get("name", "") if shared else "",
                shared.get("sha256", "") if shared else "",
                in_zip,
                entry.entry_hash,
            )
        )
        return bool(in_zip)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()
        _copy_in(self.archive, "messages.csv", self.spool, self.digests)


class _ActianceWriter:
    """actiance_export.xml in the layout Mattermost's compliance export writes for Actiance/Smarsh (schema:
    archive/schemas/actiance_export.xsd): a <Conversation> per conversation-day, its participants entered at the
    start and left at the end, messages (edits as original and new, deletions marked) and file transfers in
    between; the files themselves beside it in files/."""

    def __init__(self, archive: zipfile.ZipFile, digests: dict[str, str], *, since, until, **_: Any) -> None:
        self.archive, self.digests, self.since, self.until = archive, digests, since, until
        self.spool = _SealedSpool()
        self.spool.write(
            b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<FileDump xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        )
        self.key: tuple[int, date] | None = None
        self.last: OpenedEntry | None = None
        self.people: PeopleAsOf | None = None
        self.names = _ConversationNames()

    def _out(self, text: str) -> None:
        self.spool.write(text.encode())

    def _participant(self, tag: str, person: Person, moment: int) -> None:
        login = escape(person.login)
        self._out(
            f"<{tag}><LoginName>{login}</LoginName><UserType>user</UserType><DateTimeUTC>{moment}</DateTimeUTC>"
            f"<CorporateEmailID>{login}</CorporateEmailID></{tag}>\n"
        )

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        end = start + timedelta(days=1) - timedelta(seconds=1)
        if self.since is not None and self.since > start:
            start = self.since
        if self.until is not None and self.until < end:
            end = self.until
        return start, end

    def _begin(self, entry: OpenedEntry, people: PeopleAsOf) -> None:
        self.key = _day_key(entry)
        start, _ = self._bounds(self.key[1])
        name = self.names.name(entry, people)
        self._out(f"<Conversation Perspective={quoteattr(name)}>\n")
        self._out(f"<RoomID>{escape(f'{name} - {entry.conversation_id}')}</RoomID>\n")
        self._out(f"<StartTimeUTC>{_seconds(start)}</StartTimeUTC>\n")
        for user in entry.participants:
            self._participant("ParticipantEntered", people.person(user), _seconds(start))

    def _end(self, people: PeopleAsOf) -> None:
        if self.key is None or self.last is None:
            return
        _, end = self._bounds(self.key[1])
        for user in self.last.participants:
            self._participant("ParticipantLeft", people.person(user), _seconds(end))
        self._out(f"<EndTimeUTC>{_seconds(end)}</EndTimeUTC>\n</Conversation>\n")
        self.key = None

    def _message(self, entry: OpenedEntry, login: str, content: str, updated: str = "", new_id: str = "") -> None:
        at = _millis(entry.occurred_at)
        parts = [
            f"<MessageId>{entry.message_id or ''}</MessageId>",
            f"<LoginName>{escape(login)}</LoginName><UserType>user</UserType>",
            f"<DateTimeUTC>{at}</DateTimeUTC>",
        ]
        if updated:
            parts.append(f"<UpdatedType>{updated}</UpdatedType><UpdatedDateTimeUTC>{at}</UpdatedDateTimeUTC>")
        if new_id:
            parts.append(f"<EditedNewMsgId>{new_id}</EditedNewMsgId>")
        parts.append(f"<Content>{escape(content)}</Content>")
        self._out("<Message>" + "".join(parts) + "</Message>\n")

    def write(self, entry: OpenedEntry, people: PeopleAsOf) -> int:
        if entry.event_type not in MESSAGE_EVENTS:
            return 0
        if self.key != _day_key(entry):
            self._end(people)
            self._begin(entry, people)
        self.last, self.people = entry, people
        login = people.person(entry.actor_id).login if entry.actor_id is not None else ARCHIVE_SENDER.addr_spec
        content = entry.content
        if entry.event_type == EventType.MESSAGE_EDITED:
            message_id = str(entry.message_id or "")
            self._message(entry, login, str(content.get("old", "")), "EditedOriginalMsg", message_id)
            self._message(entry, login, str(content.get("new", "")), "EditedNewMsg")
        elif entry.event_type == EventType.MESSAGE_DELETED:
            self._message(entry, login, str(content.get("body", "")), "Deleted")
        else:
            self._message(entry, login, entry_text(entry))
        if entry.event_type != EventType.FILE_SHARED:
            return 0
        data = _shared_file_bytes(entry)
        if data is None:
            return 0
        in_zip = _file_name(entry)
        with _member(self.archive, in_zip, self.digests) as member:
            member.write(data)
        user_name = escape(str(content.get("file", {}).get("name", "")))
        at = _seconds(entry.occurred_at)
        for tag, status in (("FileTransferStarted", ""), ("FileTransferEnded", "<Status>Completed</Status>")):
            self._out(
                f"<{tag}><LoginName>{escape(login)}</LoginName><DateTimeUTC>{at}</DateTimeUTC>"
                f"<UserFileName>{user_name}</UserFileName><FileName>{escape(in_zip)}</FileName>{status}</{tag}>\n"
            )
        return 1

    def close(self) -> None:
        if self.last is not None:
            self._end(self.people)
        self.spool.write(b"</FileDump>\n")
        _copy_in(self.archive, "actiance_export.xml", self.spool, self.digests)


class _EmlWriter:
    """eml/<conversation>/<day>.eml: one RFC 5322 message per conversation-day (From: everyone who wrote, To:
    everyone present), a multipart/digest holding one message/rfc822 per chat message with its sender in From,
    the others in To, the conversation, message and entry in X-Parley-* headers and its file attached."""

    def __init__(self, archive: zipfile.ZipFile, digests: dict[str, str], **_: Any) -> None:
        self.archive, self.digests = archive, digests
        self.key: tuple[int, date] | None = None
        self.names = _ConversationNames()
        self.boundary = ""
        self.spool: _SealedSpool | None = None
        self.senders: dict[int, Address] = {}
        self.present: dict[int, Address] = {}
        self.first: OpenedEntry | None = None
        self.name = ""

    def write(self, entry: OpenedEntry, people: PeopleAsOf) -> int:
        if entry.event_type not in MESSAGE_EVENTS:
            return 0
        if self.key != _day_key(entry):
            self._end()
            self.key, self.first = _day_key(entry), entry
            self.name = self.names.name(entry, people)
            self.boundary = f"parley-{secrets.token_hex(12)}"
            self.spool, self.senders, self.present = _SealedSpool(), {}, {}
        sender = people.person(entry.actor_id) if entry.actor_id is not None else None
        others = [people.person(user) for user in entry.participants if user != entry.actor_id]
        if sender is not None and sender.id not in self.senders:
            self.senders[sender.id] = sender.address
        for person in [*([sender] if sender else []), *others]:
            if person.id not in self.present:
                self.present[person.id] = person.address
        message, attached = self._message(entry, sender, others)
        self.spool.write(f"\r\n--{self.boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode())
        self.spool.write(message.as_bytes(policy=MIME_CRLF))
        return attached

    def _message(self, entry: OpenedEntry, sender: Person | None, others: list[Person]) -> tuple[Message, int]:
        """One chat message as an e-mail. Built with the email package's MIME classes and pre-formatted address
        headers (compat32) rather than EmailMessage's header objects: four times faster, which is most of an
        EML export's time at 100,000 messages; the output parses the same."""
        body = _text_part(entry_text(entry))
        parts: list[Message] = []
        attached = 0
        if entry.event_type == EventType.MESSAGE_EDITED:
            parts.append(_attachment(str(entry.content.get("old", "")).encode(), "text/plain", "previous-version.txt"))
        if entry.event_type == EventType.FILE_SHARED:
            data = _shared_file_bytes(entry)
            if data is not None:
                shared = entry.content.get("file", {})
                parts.append(_attachment(data, shared.get("content_type") or "", str(shared.get("name") or "file")))
                attached = 1
        message: Message = body
        if parts:
            message = MIMEMultipart("mixed")
            for part in (body, *parts):
                message.attach(part)
        archive_sender = formataddr((ARCHIVE_SENDER.display_name, ARCHIVE_SENDER.addr_spec))
        message["From"] = sender.header if sender else archive_sender
        message["To"] = ", ".join(person.header for person in others) or (sender.header if sender else archive_sender)
        message["Date"] = format_datetime(entry.occurred_at.astimezone(UTC))
        subject = {
            EventType.MESSAGE_EDITED: f"Edited in {self.name}",
            EventType.MESSAGE_DELETED: f"Deleted in {self.name}",
        }.get(entry.event_type, self.name)
        message["Subject"] = Header(subject, "utf-8") if not subject.isascii() else subject
        message["Message-ID"] = f"<entry-{entry.conversation_id}-{entry.position}@archive.parley.invalid>"
        message["X-Parley-Conversation-Id"] = str(entry.conversation_id)
        message["X-Parley-Conversation"] = Header(self.name, "utf-8") if not self.name.isascii() else self.name
        message["X-Parley-Message-Id"] = str(entry.message_id or "")
        message["X-Parley-Event"] = entry.event_type
        message["X-Parley-Archive-Position"] = str(entry.position)
        message["X-Parley-Entry-Hash"] = entry.entry_hash
        return message, attached

    def _end(self) -> None:
        if self.key is None or self.spool is None or self.first is None:
            return
        conversation_id, day = self.key
        outer = EmailMessage(policy=SMTP)
        outer["From"] = list(self.senders.values()) or [ARCHIVE_SENDER]
        if len(self.senders) > 1:  # RFC 5322 3.6.2: several authors need one Sender
            outer["Sender"] = ARCHIVE_SENDER
        outer["To"] = list(self.present.values()) or [ARCHIVE_SENDER]
        outer["Date"] = format_datetime(self.first.occurred_at.astimezone(UTC))
        outer["Subject"] = f"{self.name} on {day.isoformat()}"
        outer["Message-ID"] = f"<conversation-{conversation_id}-{day.isoformat()}@archive.parley.invalid>"
        outer["X-Parley-Conversation-Id"] = str(conversation_id)
        outer["X-Parley-Conversation"] = self.name
        outer["MIME-Version"] = "1.0"
        outer["Content-Type"] = f'multipart/digest; boundary="{self.boundary}"'
        self.spool.write(f"\r\n--{self.boundary}--\r\n".encode())
        with _member(self.archive, f"eml/{conversation_id}/{day.isoformat()}.eml", self.digests) as member:
            member.write(outer.as_bytes(policy=SMTP).split(b"\r\n\r\n", 1)[0] + b"\r\n")  # headers only
            self.spool.copy_to(member)
        self.key = self.spool = self.first = None

    def close(self) -> None:
        self._end()


WRITERS: dict[str, type] = {"csv": _CsvWriter, "actiance": _ActianceWriter, "eml": _EmlWriter}
