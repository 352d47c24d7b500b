"""Exports other tools read: each format parses with its own reader and says what the archive says, people as
they were at the event; the ZIP's signed manifest verifies; a large export stays in constant memory."""

import csv
import email
import io
import json
import secrets
import tracemalloc
import zipfile
from datetime import timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32, default

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from lxml import etree

from accounts.models import User
from accounts.tests.factories import UserFactory
from archive import formats, signing
from archive import selectors as archive_selectors
from archive.chain import canonical_event, entry_hash
from archive.formats import MANIFEST_NAME, archive_export_zip, zip_export_problems
from archive.models import ArchiveChain, ArchiveEntry, EventType
from archive.verify_export import verify
from core import sealed_stream
from core.testing import BASE_DIR
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

SCHEMA = BASE_DIR / "archive" / "schemas" / "actiance_export.xsd"


@pytest.fixture
def desk(settings, tmp_path):
    """A room with a message sent under a name since changed, an edit, a deletion and a shared file."""
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""  # the scan itself is tested against a real clamd in messenger/tests
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = UserFactory(username="alice", display_name="Alice Old", email="alice@example.com")
    bob = UserFactory(username="bob", display_name="Bob", email="")
    room = room_with(alice, bob, name="deals")
    first = send(alice, room, "buy <ACME> & hold")
    User.objects.filter(pk=alice.pk).update(display_name="Alice New")
    alice.refresh_from_db()
    edited = send(alice, room, "numbers: draft")
    services.message_edit(editor=alice, message_id=edited.pk, body="numbers: final")
    gone = send(bob, room, "delete me")
    services.message_delete(editor=bob, message_id=gone.pk)
    file_share(
        sender=bob,
        conversation_id=room.pk,
        client_id="f1",
        name="deal.csv",
        content_type="text/csv",
        data=b"a,b\n1,2\n",
    )
    return {"alice": alice, "bob": bob, "room": room, "first": first, "edited": edited, "gone": gone}


def export(tmp_path, export_format: str, *extra: str) -> zipfile.ZipFile:
    path = tmp_path / f"export-{export_format}.zip"
    call_command("export_archive", str(path), "--format", export_format, "--no-progress", *extra)
    return zipfile.ZipFile(path)


def test_the_manifest_of_every_format_verifies_and_names_every_member(desk, tmp_path):
    for export_format in ("eml", "actiance", "csv", "jsonl"):
        archive = export(tmp_path, export_format)
        manifest = json.loads(json.loads(archive.read(MANIFEST_NAME))["document"])

        assert zip_export_problems(archive.filename, signing.public_key_hex()) == [], export_format
        assert manifest["contains"] == export_format
        assert set(manifest["members"]) == set(archive.namelist()) - {MANIFEST_NAME}


def test_a_changed_member_or_a_wrong_key_is_found(desk, tmp_path):
    archive = export(tmp_path, "csv")
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(altered, "w") as out:
        for name in archive.namelist():
            data = archive.read(name)
            out.writestr(name, data.replace(b"numbers: final", b"numbers: fixed") if name == "messages.csv" else data)

    assert zip_export_problems(str(altered), signing.public_key_hex()) == [
        "messages.csv does not match its SHA-256 in the manifest"
    ]
    assert zip_export_problems(archive.filename, "ab" * 32) == [
        "the manifest's signature is not valid for this public key"
    ]


def test_eml_is_one_message_per_conversation_day_with_each_chat_message_inside_as_it_was_sent(desk, tmp_path):
    archive = export(tmp_path, "eml")
    room = desk["room"]
    (name,) = [name for name in archive.namelist() if name.startswith("eml/")]
    day = email.message_from_bytes(archive.read(name), policy=default)
    inner = [part.get_content() for part in day.iter_parts()]

    assert name == f"eml/{room.pk}/{timezone.now().date().isoformat()}.eml"
    assert day.get_content_type() == "multipart/digest"
    assert {address.addr_spec for address in day["From"].addresses} == {"alice@example.com", "bob@users.parley.invalid"}
    assert day["X-Parley-Conversation-Id"] == str(room.pk)
    by_event = [(message["X-Parley-Event"], message.get_body(("plain",)).get_content().strip()) for message in inner]
    assert by_event == [
        ("message_sent", "buy <ACME> & hold"),
        ("message_sent", "numbers: draft"),
        ("message_edited", "numbers: final"),
        ("message_sent", "delete me"),
        ("message_deleted", "delete me"),
        ("file_shared", ""),
    ]
    first = inner[0]
    assert first["From"].addresses[0].display_name == "Alice Old"  # as of the message, not as of the export
    assert inner[1]["From"].addresses[0].display_name == "Alice New"
    assert [address.addr_spec for address in first["To"].addresses] == ["bob@users.parley.invalid"]
    assert first["X-Parley-Message-Id"] == str(desk["first"].pk)
    (previous,) = list(inner[2].iter_attachments())
    assert previous.get_content().strip() == "numbers: draft"
    (shared,) = list(inner[5].iter_attachments())
    assert shared.get_filename() == "deal.csv" and shared.get_content().replace("\r\n", "\n") == "a,b\n1,2\n"


def test_eml_of_a_large_room_with_names_in_any_script_reads_back_as_the_archive_holds_it(settings, tmp_path):
    """Long To: headers, names and a room name beyond ASCII, an entry hash too long for one header line: each
    chat message still parses to its sender, everyone else, its room, its text and its entry."""
    people = [
        UserFactory(username=f"trader{index}", display_name=name, email=f"t{index}@example.com" if index % 2 else "")
        for index, name in enumerate(["Zoë Ünal", "Åsa Öberg", "Ιωάννης", "李雷", "Bob", "O'Neil, Pat", "Ann", "Kai"])
    ]
    room = room_with(*people, name="überweisungen")
    bodies = ["Grüße: From the desk\nFrom here on, = 100%", "x" * 300, "plain"]
    for sender, body in zip(people[:3], bodies, strict=True):
        send(sender, room, body)

    archive = export(tmp_path, "eml")
    (name,) = [name for name in archive.namelist() if name.startswith("eml/")]
    raw = archive.read(name)
    inner = [part.get_content() for part in email.message_from_bytes(raw, policy=default).iter_parts()]
    hashes = dict(ArchiveEntry.objects.filter(conversation_id=room.pk).values_list("position", "entry_hash"))

    def addresses(header) -> list[tuple[str, str]]:
        return [(address.display_name, address.addr_spec) for address in header.addresses]

    def address(person) -> tuple[str, str]:
        return person.display_name, person.email or f"{person.username}@users.parley.invalid"

    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322 2.1.1
    texts = [message.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") for message in inner]
    assert texts == bodies  # line breaks as the mail carries them (CRLF), nothing else changed
    for message, sender in zip(inner, people[:3], strict=True):
        assert addresses(message["From"]) == [address(sender)]
        assert addresses(message["To"]) == [address(person) for person in people if person != sender]
        assert message["Subject"] == message["X-Parley-Conversation"] == "#überweisungen"
        # Too long for the line of its name, the hash is folded onto the next: the space that folds it stays.
        assert message["X-Parley-Entry-Hash"].strip() == hashes[int(message["X-Parley-Archive-Position"])]


@pytest.mark.parametrize(
    "value",
    [
        "<entry-12-345@archive.parley.invalid>",
        "x" * 57,  # "Subject: " and this: 66 characters, on one line
        "x" * 69,  # 78 exactly
        "x" * 70,  # one over, and nowhere to break: on a line of its own
        "ab" * 32,  # an entry hash after "X-Parley-Entry-Hash: "
        ", ".join(f'"Trader {index}" <trader{index}@example.com>' for index in range(12)),  # folded at a comma
        "two  spaces and a trailing one ",
        " a leading space",
        "a\ttab",
        "a line\r\nbreak",
        "y" * 40 + "\t" + "z" * 40,  # folded at the tab
        "",
        "#überweisungen",
        Header("#überweisungen " * 8, "utf-8"),
    ],
)
def test_eml_headers_are_folded_byte_for_byte_as_compat32_folds_them(value):
    """archive.formats.MIME_CRLF writes most headers without running the email package's folding; the bytes
    are those compat32 writes (asked twice: the second answer may come from its cache)."""
    compat32_crlf = compat32.clone(linesep="\r\n")
    for name in ("Subject", "X-Parley-Entry-Hash", "To"):
        expected = compat32_crlf.fold_binary(name, value)
        assert formats.MIME_CRLF.fold_binary(name, value) == expected
        assert formats.MIME_CRLF.fold_binary(name, value) == expected


@pytest.mark.parametrize(
    "text",
    ["plain", "", "Grüße 😀", "From the start\nFrom here", "x" * 200, "trailing  \nspaces ", "a = b\r\nc", "\n"],
)
def test_an_eml_text_part_is_byte_for_byte_what_mimetext_builds(text):
    expected = MIMEText(text, "plain", formats.READABLE_UTF8).as_bytes(policy=formats.MIME_CRLF)

    assert formats._text_part(text).as_bytes(policy=formats.MIME_CRLF) == expected


def test_actiance_xml_validates_against_its_schema_and_holds_the_archive(desk, tmp_path):
    archive = export(tmp_path, "actiance")
    document = etree.fromstring(archive.read("actiance_export.xml"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))

    assert schema.validate(document), schema.error_log
    (conversation,) = document.findall("Conversation")
    assert conversation.get("Perspective") == "#deals"
    contents = [(m.findtext("UpdatedType"), m.findtext("Content")) for m in conversation.findall("Message")]
    assert contents == [
        (None, "buy <ACME> & hold"),
        (None, "numbers: draft"),
        ("EditedOriginalMsg", "numbers: draft"),
        ("EditedNewMsg", "numbers: final"),
        (None, "delete me"),
        ("Deleted", "delete me"),
        (None, ""),
    ]
    entered = {element.findtext("LoginName") for element in conversation.findall("ParticipantEntered")}
    assert entered == {"alice@example.com", "bob@users.parley.invalid"}
    (ended,) = conversation.findall("FileTransferEnded")
    assert ended.findtext("UserFileName") == "deal.csv"
    assert archive.read(ended.findtext("FileName")) == b"a,b\n1,2\n"


def test_actiance_xml_that_breaks_the_layout_fails_the_schema(desk, tmp_path):
    archive = export(tmp_path, "actiance")
    document = etree.fromstring(archive.read("actiance_export.xml"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    conversation = document.find("Conversation")
    conversation.remove(conversation.find("EndTimeUTC"))

    assert not schema.validate(document)


def test_csv_has_a_row_per_entry_in_range_with_people_as_of_the_event(desk, tmp_path):
    archive = export(tmp_path, "csv")
    rows = list(csv.DictReader(io.StringIO(archive.read("messages.csv").decode())))
    in_archive = ArchiveEntry.objects.order_by("conversation_id", "position")

    assert [(int(row["conversation_id"]), int(row["position"])) for row in rows] == list(
        in_archive.values_list("conversation_id", "position")
    )
    assert [row["entry_hash"] for row in rows] == list(in_archive.values_list("entry_hash", flat=True))
    sent = [row for row in rows if row["event"] == "message_sent"]
    assert [(row["actor_display_name"], row["text"]) for row in sent] == [
        ("Alice Old", "buy <ACME> & hold"),
        ("Alice New", "numbers: draft"),
        ("Bob", "delete me"),
    ]
    (edit,) = [row for row in rows if row["event"] == "message_edited"]
    assert (edit["previous_text"], edit["text"]) == ("numbers: draft", "numbers: final")
    (shared,) = [row for row in rows if row["event"] == "file_shared"]
    assert archive.read(shared["file_in_zip"]) == b"a,b\n1,2\n"


def test_csv_says_how_a_call_ended_and_how_long_it_lasted(tmp_path):
    from calls import services as calls
    from calls.models import Call

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    chat = services.direct_open(user=alice, other_username="bob")
    call = calls.call_invite(caller=alice, conversation_id=chat.pk)
    calls.call_join(user=bob, call_id=call.pk)
    Call.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=62))
    calls.call_leave(user=alice, call_id=call.pk)

    rows = list(csv.DictReader(io.StringIO(export(tmp_path, "csv").read("messages.csv").decode())))

    call_rows = [(row["event"], row["actor_username"]) for row in rows if row["event"].startswith("call_")]
    assert call_rows == [
        ("call_started", "alice"),
        ("call_joined", "bob"),
        ("call_left", "alice"),
        ("call_ended", "alice"),
    ]
    assert rows[-1]["text"] == "Call ended (hung_up): 62 s"


def test_csv_and_jsonl_say_who_a_call_refused_as_busy_was_for(tmp_path):
    from calls import services as calls
    from calls.errors import CallBusy

    alice, bob, carol = (UserFactory(username=name) for name in ("alice", "bob", "carol"))
    chat = services.direct_open(user=alice, other_username="bob")
    calls.call_join(user=bob, call_id=calls.call_invite(caller=alice, conversation_id=chat.pk).pk)
    with pytest.raises(CallBusy):
        calls.call_invite(caller=carol, conversation_id=services.direct_open(user=carol, other_username="bob").pk)
    said = "Call refused (busy): bob was in another call"

    rows = list(csv.DictReader(io.StringIO(export(tmp_path, "csv").read("messages.csv").decode())))

    assert [(row["event"], row["actor_username"], row["text"]) for row in rows if row["text"] == said] == [
        ("call_ended", "carol", said)
    ]
    lines = export(tmp_path, "jsonl").read("export.jsonl").decode().splitlines()
    contents = [json.loads(line)["entry"]["content"] for line in lines if '"entry"' in line]
    assert [content["called"] for content in contents if content.get("reason") == "busy"] == [[bob.pk]]


def test_jsonl_in_a_zip_is_todays_verifiable_export(desk, tmp_path):
    archive = export(tmp_path, "jsonl")
    lines = archive.read("export.jsonl").decode().splitlines()
    records = [json.loads(line) for line in lines]

    assert verify(lines, signing.public_key_hex()) == []
    bodies = [record["entry"]["content"].get("body") for record in records if "entry" in record]
    assert "buy <ACME> & hold" in bodies


def test_a_date_range_leaves_out_what_is_outside_it(desk, tmp_path):
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    archive = export(tmp_path, "csv", "--since", since)

    header, *rows = archive.read("messages.csv").decode().splitlines()

    assert header.startswith("conversation_id,conversation,position") and rows == []


def test_what_a_format_spools_to_disk_while_the_zip_fills_is_sealed_never_the_text(desk, tmp_path, monkeypatch):
    """The CSV, the XML and each EML are spooled before going into the ZIP: the spool files kept here (instead of
    vanishing on close) hold none of the messages' words."""
    import tempfile

    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(
        "archive.formats.tempfile.TemporaryFile",
        lambda: tempfile.NamedTemporaryFile(dir=spools, delete=False),  # noqa: SIM115 (closed by the spool)
    )
    for export_format in ("eml", "actiance", "csv"):
        archive = export(tmp_path, export_format)
        assert b"numbers: final" in b"".join(archive.read(name) for name in archive.namelist())

    spooled = [path.read_bytes() for path in spools.iterdir()]
    assert len(spooled) >= 3
    assert all(spool and b"numbers" not in spool and b"ACME" not in spool for spool in spooled)


def test_an_unknown_format_is_refused_by_the_command(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export_archive", str(tmp_path / "x.zip"), "--format", "pdf")


def test_an_entry_that_does_not_open_refuses_the_export(desk):
    from archive.export import ExportBlocked
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)

    with pytest.raises(ExportBlocked, match=f"position {second.position} does not open"):
        archive_export_zip(out=io.BytesIO(), export_format="eml", requested_by="t")


def test_a_missing_shared_file_refuses_the_command_leaving_no_zip_and_the_export_is_audit_logged(desk, tmp_path):
    from auditlog.models import LogEntry
    from django.core.management.base import CommandError

    from messenger.models import Attachment

    export(tmp_path, "actiance")
    (logged,) = LogEntry.objects.filter(additional_data__archive_access="export")
    assert logged.additional_data["criteria"]["format"] == "actiance"
    attachment = Attachment.objects.get()
    attachment.file.storage.delete(attachment.file.name)

    with pytest.raises(CommandError, match="missing from storage"):
        export(tmp_path, "eml")

    assert not (tmp_path / "export-eml.zip").exists() and not list(tmp_path.glob(".export-eml*"))


BATCH = 5000


def _bulk_archive(conversation, sender, participants: list[int], count: int) -> None:
    """`count` message entries on one chain, written like bench/archive.py (a test of size, not of sending)."""
    chain = ArchiveChain.objects.get(pk=conversation.pk)
    position, previous = chain.position, chain.head_hash
    start = timezone.now() - timedelta(days=2)
    people = {str(sender.pk): {"username": sender.username, "display_name": sender.display_name, "email": ""}}
    for first in range(0, count, BATCH):
        entries = []
        for index in range(first, min(first + BATCH, count)):
            position += 1
            occurred_at = start + timedelta(seconds=index)
            content = {"body": f"message {index} about the quarterly numbers", "seq": index, "people": people}
            salt = secrets.token_hex(16)
            digest = entry_hash(
                canonical_event(
                    conversation_id=conversation.pk,
                    position=position,
                    prev_hash=previous,
                    event_type=EventType.MESSAGE_SENT,
                    actor_id=sender.pk,
                    occurred_at=occurred_at,
                    participants=participants,
                    message_id=None,
                    content=content,
                    salt=salt,
                )
            )
            entries.append(
                ArchiveEntry(
                    conversation_id=conversation.pk,
                    position=position,
                    event_type=EventType.MESSAGE_SENT,
                    actor_id=sender.pk,
                    occurred_at=occurred_at,
                    participants=participants,
                    message_id=None,
                    payload=json.dumps({"content": content, "salt": salt}),
                    prev_hash=previous,
                    entry_hash=digest,
                )
            )
            previous = digest
        with transaction.atomic():
            ArchiveEntry.objects.bulk_create(entries)
    ArchiveChain.objects.filter(pk=conversation.pk).update(position=position, head_hash=previous)


def export_peak(tmp_path, room, export_format: str) -> int:
    """The most memory (tracemalloc) one room's export in `export_format` held at once, in bytes."""
    path = tmp_path / f"{room.pk}-{export_format}.zip"
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            archive_export_zip(out=out, export_format=export_format, conversation_ids=[room.pk], requested_by="t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert zip_export_problems(str(path), signing.public_key_hex()) == []
    return peak


def test_an_exports_memory_does_not_grow_with_the_number_of_messages_in_any_format(tmp_path, monkeypatch):
    """Streaming, in every format: four times the messages hold no more memory. How much it is (about 4 MB at
    100,000 messages, against a 16 MB target) is bench/archive.py's to measure."""
    # Small buffers, so that both sizes fill them: the cursor reads 200 rows at a time (two chunks are held at
    # once) and the spool seals 64 KiB at a time. What is left to differ is what grows with the messages.
    monkeypatch.setattr(archive_selectors, "STREAM_CHUNK", 200)
    monkeypatch.setattr(formats, "STREAM_CHUNK", 200)
    monkeypatch.setattr(sealed_stream, "CHUNK_BYTES", 64 * 1024)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    participants = sorted([alice.pk, bob.pk])
    rooms = {count: room_with(alice, bob, name=f"{count} messages") for count in (10, 1000, 4000)}
    for count, room in rooms.items():
        _bulk_archive(room, alice, participants, count)

    peaks = {}
    for export_format in formats.FORMATS:
        export_peak(tmp_path, rooms[10], export_format)  # first, what is built once per process (templates, caches)
        peaks[export_format] = [export_peak(tmp_path, rooms[count], export_format) for count in (1000, 4000)]

    # Holding each message (a few hundred bytes at least) would add a megabyte or more for 3,000 more.
    grown = {name: (large - small) / 1e6 for name, (small, large) in peaks.items()}
    assert all(growth < 0.25 for growth in grown.values()), {name: f"+{mb:.2f} MB" for name, mb in grown.items()}
