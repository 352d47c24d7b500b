"""The application's PostgreSQL role reads and appends the archive and does nothing else to it; its work still works.

The test's own connection is the owner (it ran the migrations). Each test grants the role `parley_app` (made by
.ci/run) on the test database as `migrate` would, then tries things as that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from archive.checkpoints import archive_checkpoint_create
from archive.db_roles import database_app_role_grant, database_role_warnings
from archive.models import ArchiveEntry, ArchiveSearchToken
from archive.retention import apply_retention, legal_hold_open
from archive.services import search_index_rebuild
from archive.tests.factories import old_room
from archive.verification import archive_verify
from conftest import IS_CI
from core import crypto
from core.crypto import new_key_entry
from core.key_rotation import keys_rotate
from messenger.tests.factories import room_with, send

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APP_ROLE = APP_PASSWORD = "parley_app"


@pytest.fixture
def app_role() -> str:
    database_app_role_grant(role=APP_ROLE)
    return APP_ROLE


@pytest.fixture
def as_app(app_role) -> Iterator[psycopg.Connection]:
    """A plain connection to the test database as the application role, in autocommit."""
    settings = connection.settings_dict
    try:
        app = psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            dbname=settings["NAME"],
            user=APP_ROLE,
            password=APP_PASSWORD,
            autocommit=True,
        )
    except psycopg.OperationalError as error:
        gap = f"cannot connect as {APP_ROLE} ({error}); .ci/run creates it: CREATE ROLE {APP_ROLE} LOGIN PASSWORD ..."
        if IS_CI:
            pytest.fail(f"{gap}; under CI=true a missing role is a failure, not a skip.", pytrace=False)
        pytest.skip(gap)
    with app:
        yield app


@contextmanager
def connected_as_app_role() -> Iterator[None]:
    """Run the unchanged services as web and worker do: logged in as the application role.

    The services use `django.db.connection`, the default alias, and never name another, so a second alias would
    not reach them. For the block the default alias is a new connection with the same settings and the
    application role's credentials; the owner's connection is put back afterwards.
    """
    owner = connections[DEFAULT_DB_ALIAS]
    app = owner.__class__({**owner.settings_dict, "USER": APP_ROLE, "PASSWORD": APP_PASSWORD}, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = app
    try:
        yield
    finally:
        app.close()
        connections[DEFAULT_DB_ALIAS] = owner


@pytest.fixture
def archived_room(alice):
    room = room_with(alice)
    send(alice, room, "kept for years")
    archive_checkpoint_create(reason="test")
    return room


def refused(app: psycopg.Connection, *statements: str) -> str:
    """Run the statements in one transaction; return the error PostgreSQL refused them with."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refusal, app.transaction():
        for statement in statements:
            app.execute(statement)
    return str(refusal.value)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE archive_archiveentry SET actor_id = NULL",
        "UPDATE archive_archiveentry SET payload = payload",
        "DELETE FROM archive_archiveentry",
        "TRUNCATE archive_archiveentry",
        "UPDATE archive_archivechain SET conversation_id = conversation_id",
        "UPDATE archive_archivechain SET position = position - 1",
        "UPDATE archive_archivechain SET sealed_position = 0",
        "UPDATE archive_archivechain SET head_hash = repeat('0', 64)",
        "DELETE FROM archive_archivechain",
        "TRUNCATE archive_archivechain",
        "UPDATE archive_archivecheckpoint SET reason = 'forged'",
        "DELETE FROM archive_archivecheckpoint",
        "TRUNCATE archive_archivecheckpoint",
        "UPDATE auditlog_logentry SET actor_id = NULL",
        "DELETE FROM auditlog_logentry",
        "TRUNCATE auditlog_logentry",
        "INSERT INTO archive_auditreceipt (log_id, written_at) VALUES (999999, now())",
        "DELETE FROM archive_auditreceipt",
        "TRUNCATE archive_auditreceipt",
        "ALTER TABLE auditlog_logentry DISABLE TRIGGER auditlog_receipt",
        "ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only",
        "DROP TRIGGER archive_entry_append_only ON archive_archiveentry",
        "ALTER TABLE archive_archivechain DISABLE TRIGGER archive_chain_forward_only",
        "DROP TRIGGER archive_checkpoint_immutable ON archive_archivecheckpoint",
        "DROP TABLE archive_archiveentry",
        "UPDATE archive_mattertag SET tag = 'renamed'",
        "UPDATE archive_mattertag SET entry_id = 1",
        "DELETE FROM archive_mattertag",
        "CREATE OR REPLACE FUNCTION parley_archive_append_only() RETURNS trigger AS 'BEGIN RETURN OLD; END' "
        "LANGUAGE plpgsql",
    ],
)
def test_the_app_role_can_neither_change_nor_remove_nor_unguard_the_archive(archived_room, as_app, statement):
    before = list(ArchiveEntry.objects.order_by("pk").values_list("pk", "entry_hash"))

    refused(as_app, statement)

    assert list(ArchiveEntry.objects.order_by("pk").values_list("pk", "entry_hash")) == before
    assert archive_verify().is_intact


def test_the_purge_and_rekey_settings_open_nothing_for_the_app_role(archived_room, as_app):
    refused(as_app, "SET LOCAL parley.archive_purge = 'on'", "DELETE FROM archive_archiveentry")
    refused(as_app, "SET LOCAL parley.archive_rekey = 'on'", "UPDATE archive_archiveentry SET payload = payload")

    assert ArchiveEntry.objects.filter(conversation_id=archived_room.pk).count() == 2


def test_the_app_role_appends_through_the_services_and_the_archive_verifies(archived_room, alice, as_app):
    with connected_as_app_role():
        assert connection.settings_dict["USER"] == APP_ROLE
        send(alice, archived_room, "written by the application role")
        archive_checkpoint_create(reason="test")
        report = archive_verify()

    assert report.is_intact
    assert ArchiveEntry.objects.filter(conversation_id=archived_room.pk).count() == 3


def test_the_app_role_tags_and_untags_a_matters_results_through_the_services(archived_room, alice, as_app):
    from archive.matters import matter_create, matter_tag, matter_untag
    from archive.models import MatterTag
    from archive.selectors import ArchiveSearch

    entry = ArchiveEntry.objects.filter(conversation_id=archived_room.pk, event_type="message_sent").get()
    with connected_as_app_role():
        matter = matter_create(by=alice, name="Case 1", search=ArchiveSearch(words="kept"))
        matter_tag(matter=matter, by=alice, entry_ids=[entry.pk], tag="responsive")
        matter_untag(matter=matter, by=alice, entry_ids=[entry.pk], tag="responsive")

    assert MatterTag.objects.get().removed_by == alice


def test_the_app_role_purges_expired_entries_through_the_owners_function(alice, as_app):
    expired = old_room(alice, days=2300)
    young = room_with(alice)

    with connected_as_app_role():
        report = apply_retention()

    assert report.purged_entries == 4  # room_created and three messages
    assert list(ArchiveEntry.objects.filter(conversation_id=expired.pk).values_list("event_type", flat=True)) == [
        "purge"
    ]
    assert ArchiveEntry.objects.filter(conversation_id=young.pk).count() == 1
    assert archive_verify().is_intact
    # The owner's function took the purged entries' search tokens with them; the young room keeps its own.
    assert set(ArchiveSearchToken.objects.values_list("entry_id", flat=True)) == set(
        ArchiveEntry.objects.filter(conversation_id=young.pk).values_list("pk", flat=True)
    )


def test_the_app_role_swaps_search_tokens_but_never_rewrites_one(archived_room, as_app):
    entry_id = ArchiveEntry.objects.filter(conversation_id=archived_room.pk).latest("pk").pk

    with connected_as_app_role():
        rebuilt = list(search_index_rebuild(after_id=entry_id - 1))

    assert rebuilt[-1].entries == 1 and ArchiveSearchToken.objects.filter(entry_id=entry_id).exists()
    refused(as_app, "UPDATE archive_archivesearchtoken SET occurred_at = now()")


def test_the_purge_function_refuses_young_held_and_purge_entries_and_a_later_clock(alice, bob, as_app):
    young = room_with(alice)
    held = old_room(alice, bob, days=2300)
    legal_hold_open(by=alice, case_name="Case", reason="subpoena", users=[bob])
    purged = old_room(alice, days=2300)
    apply_retention()  # as the owner: positions 1..4 go, the purge record is 5

    def purge(room, from_position: int, to_position: int, as_of=None) -> str:
        return refused(
            as_app,
            f"SELECT parley_archive_purge({room.pk}, {from_position}, {to_position}, 1095, "
            + ("NULL" if as_of is None else f"'{as_of.isoformat()}'")
            + ")",
        )

    assert "is younger than its retention of 2190 days" in purge(young, 1, 1)
    assert "is under an open legal hold" in purge(held, 1, 4)
    assert "is a purge record" in purge(purged, 5, 5)
    later = timezone.now() + timedelta(days=3000)
    assert "only the archive owner may purge as of a time after now()" in purge(young, 1, 1, as_of=later)
    assert ArchiveEntry.objects.filter(conversation_id__in=[young.pk, held.pk]).count() == 1 + 4


def test_the_app_role_rotates_keys_and_reseals_archive_payloads(settings, tmp_path, alice, as_app):
    old, new = new_key_entry("old"), new_key_entry("new")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARLEY_ENCRYPTION_KEYS = old
    room = room_with(alice)
    send(alice, room, "sealed under the old key")
    settings.PARLEY_ENCRYPTION_KEYS = f"{new},{old}"

    with connected_as_app_role():
        report = keys_rotate(batch_size=10)

    assert report.finished and report.skipped_concurrent_edits == 0
    payload_keys = {
        crypto.sealed_key_id(sealed.data) for sealed in ArchiveEntry.objects.values_list("payload", flat=True)
    }
    assert payload_keys == {"new"}
    assert archive_verify().is_intact


def test_check_deploy_warns_when_the_app_connects_as_the_archives_owner_and_not_as_the_app_role(app_role):
    assert [warning.id for warning in database_role_warnings(connection)] == ["parley.W011"]

    with connected_as_app_role():
        assert database_role_warnings(connection) == []


def test_the_grant_refuses_a_role_that_could_change_the_archive():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="the owner running migrate"):
        database_app_role_grant(role=connection.settings_dict["USER"])
    with pytest.raises(ImproperlyConfigured, match="no such role"):
        database_app_role_grant(role="nobody_here")
    with pytest.raises(ImproperlyConfigured, match="not a plain PostgreSQL role name"):
        database_app_role_grant(role='parley"; DROP TABLE archive_archiveentry; --')
