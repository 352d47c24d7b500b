"""Parley's second-factor devices: they verify as django-otp's did, and their secrets exist only sealed."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django_otp import devices_for_user, verify_token
from django_otp.oath import totp

from accounts.models import AuthenticatorDevice, BackupCodeDevice
from core import crypto
from core.crypto import new_key_entry
from core.key_rotation import encrypted_fields, keys_rotate

pytestmark = pytest.mark.django_db

OLD, NEW = new_key_entry("old"), new_key_entry("new")
SECRET = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


def code(device: AuthenticatorDevice, ahead: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift=ahead):06d}"


def stored(model, field: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM {model._meta.db_table} WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


def test_the_authenticator_secret_is_stored_sealed_and_a_code_verifies_once(alice):
    device = AuthenticatorDevice.objects.create(user=alice, name="phone", secret=SECRET)

    assert SECRET.encode() not in stored(AuthenticatorDevice, "secret", device.pk)
    assert verify_token(alice, device.persistent_id, code(device))
    assert not verify_token(alice, device.persistent_id, code(device))  # the same code again


def test_verifying_never_rewrites_the_sealed_secret(alice):
    device = AuthenticatorDevice.objects.create(user=alice, name="phone")
    before = stored(AuthenticatorDevice, "secret", device.pk)

    verify_token(alice, device.persistent_id, "000000")
    verify_token(alice, device.persistent_id, code(device))

    assert stored(AuthenticatorDevice, "secret", device.pk) == before


def test_a_backup_code_works_once_and_is_stored_sealed(alice):
    device = BackupCodeDevice.objects.create(user=alice, name="Backup codes", codes="abcdefgh23 ijklmnop45")

    assert b"abcdefgh23" not in stored(BackupCodeDevice, "codes", device.pk)
    assert verify_token(alice, device.persistent_id, "abcdefgh23")
    device.refresh_from_db()
    device.throttle_reset()
    assert not verify_token(alice, device.persistent_id, "abcdefgh23")
    assert BackupCodeDevice.objects.get(pk=device.pk).codes == "ijklmnop45"


def test_django_otp_finds_only_parleys_devices(alice):
    authenticator = AuthenticatorDevice.objects.create(user=alice, name="phone")
    backup = BackupCodeDevice.objects.create(user=alice, name="Backup codes", codes="abcdefgh23")

    assert set(devices_for_user(alice)) == {authenticator, backup}
    assert not apps.is_installed("django_otp.plugins.otp_totp")
    assert not apps.is_installed("django_otp.plugins.otp_static")


def test_rotate_keys_reseals_secrets_and_backup_codes_and_they_still_verify(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PARLEY_ENCRYPTION_KEYS = OLD
    authenticator = AuthenticatorDevice.objects.create(user=alice, name="phone", secret=SECRET)
    backup = BackupCodeDevice.objects.create(user=alice, name="Backup codes", codes="abcdefgh23")
    settings.PARLEY_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    assert {(model, field.name) for model, field in encrypted_fields()} >= {
        (AuthenticatorDevice, "secret"),
        (BackupCodeDevice, "codes"),
    }

    assert keys_rotate().finished

    assert crypto.sealed_key_id(stored(AuthenticatorDevice, "secret", authenticator.pk)) == "new"
    assert crypto.sealed_key_id(stored(BackupCodeDevice, "codes", backup.pk)) == "new"
    settings.PARLEY_ENCRYPTION_KEYS = NEW  # the old key is gone
    assert verify_token(alice, authenticator.persistent_id, code(authenticator))
    assert verify_token(alice, backup.persistent_id, "abcdefgh23")


# ---- migration 0007: moving clear devices out of django-otp's tables ---------------------------------------

CLEAR_TABLES = """
CREATE TABLE otp_totp_totpdevice (
    id serial PRIMARY KEY, user_id integer NOT NULL, name varchar(64) NOT NULL, confirmed boolean NOT NULL,
    key varchar(80) NOT NULL, step smallint NOT NULL, t0 bigint NOT NULL, digits smallint NOT NULL,
    tolerance smallint NOT NULL, drift smallint NOT NULL, last_t bigint NOT NULL,
    throttling_failure_timestamp timestamptz NULL, throttling_failure_count integer NOT NULL,
    created_at timestamptz NULL, last_used_at timestamptz NULL);
CREATE TABLE otp_static_staticdevice (
    id serial PRIMARY KEY, user_id integer NOT NULL, name varchar(64) NOT NULL, confirmed boolean NOT NULL,
    throttling_failure_timestamp timestamptz NULL, throttling_failure_count integer NOT NULL,
    created_at timestamptz NULL, last_used_at timestamptz NULL);
CREATE TABLE otp_static_statictoken (id serial PRIMARY KEY, device_id integer NOT NULL, token varchar(16) NOT NULL);
"""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the clear tables are made with PostgreSQL's DDL")
def test_the_migration_moves_confirmed_devices_sealed_and_empties_the_clear_tables(alice, bob):
    migration = importlib.import_module("accounts.migrations.0007_sealed_second_factor")
    with connection.cursor() as cursor:
        cursor.execute(CLEAR_TABLES)
        cursor.execute(
            "INSERT INTO otp_totp_totpdevice (user_id, name, confirmed, key, step, t0, digits, tolerance, drift,"
            " last_t, throttling_failure_count, created_at) VALUES"
            " (%s, 'phone', true, %s, 30, 0, 6, 1, 0, -1, 0, '2026-01-02T03:04:05Z'),"
            " (%s, 'half-done', false, %s, 30, 0, 6, 1, 0, -1, 0, NULL)",
            [alice.pk, SECRET, bob.pk, SECRET],
        )
        cursor.execute(
            "INSERT INTO otp_static_staticdevice (user_id, name, confirmed, throttling_failure_count)"
            " VALUES (%s, 'Backup codes', true, 0), (%s, 'More codes', true, 0) RETURNING id",
            [alice.pk, alice.pk],
        )
        first_set, second_set = (row[0] for row in cursor.fetchall())
        cursor.execute(
            "INSERT INTO otp_static_statictoken (device_id, token)"
            " VALUES (%s, 'abcdefgh23'), (%s, 'ijklmnop45'), (%s, 'qrstuvwx67')",
            [first_set, first_set, second_set],
        )

    with connection.schema_editor() as schema_editor:
        migration.seal_existing_second_factors(apps, schema_editor)

    with connection.cursor() as cursor:
        for table in ("otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0
    authenticator = AuthenticatorDevice.objects.get()  # bob's half-done set-up was not moved
    assert (authenticator.user, authenticator.confirmed, authenticator.created_at.year) == (alice, True, 2026)
    assert SECRET.encode() not in stored(AuthenticatorDevice, "secret", authenticator.pk)
    assert verify_token(alice, authenticator.persistent_id, code(authenticator))
    backup = BackupCodeDevice.objects.get(user=alice)  # one set per person: both old sets' codes in it
    assert b"abcdefgh23" not in stored(BackupCodeDevice, "codes", backup.pk)
    assert sorted(backup.codes.split()) == ["abcdefgh23", "ijklmnop45", "qrstuvwx67"]
    assert verify_token(alice, backup.persistent_id, "qrstuvwx67")
