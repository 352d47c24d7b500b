"""Settings come from the environment; production mode refuses unsafe ones and passes `check --deploy`."""

import base64
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from core.crypto import KeyRing, new_key_entry
from core.testing import BASE_DIR

CLEARED = {
    "PARLEY_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "PARLEY_ENV",
    "PARLEY_VAR_DIR",
    "PARLEY_VAPID_PRIVATE_KEY",
}


def run_django(code_or_args: list[str], tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PARLEY_VAR_DIR=str(tmp_path / "var"), **overrides)
    return subprocess.run(
        [sys.executable, *code_or_args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


PRINT_SETTINGS = ["-c", "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"]
PRODUCTION = {
    "PARLEY_ENV": "production",
    "PARLEY_ENCRYPTION_KEYS": new_key_entry("k1"),
    "PARLEY_ARCHIVE_SIGNING_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "PARLEY_CLAMD_ADDRESS": "tcp://clamav:3310",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "chat.example.com",
}


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **{**PRODUCTION, "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_refuses_to_start_without_encryption_keys(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **{**PRODUCTION, "PARLEY_ENCRYPTION_KEYS": ""})

    assert result.returncode != 0
    assert "PARLEY_ENCRYPTION_KEYS is required" in result.stderr


def test_production_refuses_to_start_without_a_virus_scanner(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **{**PRODUCTION, "PARLEY_CLAMD_ADDRESS": ""})

    assert result.returncode != 0
    assert "PARLEY_CLAMD_ADDRESS is required" in result.stderr


def test_production_refuses_to_start_without_an_archive_signing_key(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **{**PRODUCTION, "PARLEY_ARCHIVE_SIGNING_KEY": ""})

    assert result.returncode != 0
    assert "PARLEY_ARCHIVE_SIGNING_KEY is required" in result.stderr
    assert not (tmp_path / "var" / "archive_signing_key").exists()


def test_production_refuses_to_start_with_debug_on(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **PRODUCTION, DEBUG="true")

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, **{**PRODUCTION, "ALLOWED_HOSTS": ""})

    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_development_generates_a_secret_key_once_and_reuses_it(tmp_path):
    first = run_django(PRINT_SETTINGS, tmp_path)
    second = run_django(PRINT_SETTINGS, tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "var" / "secret_key").read_text().strip() == first.stdout.strip()


PRINT_KEY_RING = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; print(s.PARLEY_ENCRYPTION_KEYS)",
]


def test_development_generates_an_encryption_key_once_and_warns_about_it(tmp_path):
    first = run_django(PRINT_KEY_RING, tmp_path)
    second = run_django(PRINT_KEY_RING, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "PARLEY_ENCRYPTION_KEYS is not set: generating a development key" in first.stderr
    assert "generating" not in second.stderr
    assert first.stdout == second.stdout  # the same key, so data sealed yesterday still opens
    assert KeyRing.from_spec(first.stdout.strip()).primary_id == "dev1"
    assert (tmp_path / "var" / "encryption_keys").stat().st_mode & 0o077 == 0


def test_a_malformed_key_ring_is_refused_at_start(tmp_path):
    result = run_django(PRINT_KEY_RING, tmp_path, PARLEY_ENCRYPTION_KEYS="k1:QUFB")

    assert result.returncode != 0
    assert "must be 32 bytes" in result.stderr


def test_unknown_parley_env_is_refused(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_ENV="staging")

    assert result.returncode != 0
    assert "PARLEY_ENV must be" in result.stderr


def test_a_default_retention_of_zero_refuses_to_start_before_anything_is_purged(tmp_path):
    result = run_django(["manage.py", "apply_retention"], tmp_path, PARLEY_RETENTION_DEFAULT_DAYS="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PARLEY_RETENTION_DEFAULT_DAYS=0 is below the retention floor of 2190 days" in result.stderr
    assert "purged" not in result.stdout


@pytest.mark.parametrize("floor", ["0", "365", "1094"])
def test_the_retention_floor_cannot_be_lowered_from_the_environment(tmp_path, floor):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_RETENTION_FLOOR_DAYS=floor)

    assert result.returncode != 0
    assert f"PARLEY_RETENTION_FLOOR_DAYS={floor} is below the regulatory floor of 1095 days" in result.stderr


def test_the_default_retention_cannot_be_shorter_than_six_years(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_RETENTION_DEFAULT_DAYS="1095")

    assert result.returncode != 0
    assert "PARLEY_RETENTION_DEFAULT_DAYS=1095 is below the retention floor of 2190 days" in result.stderr


def test_a_raised_floor_holds_the_default_to_it(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_RETENTION_FLOOR_DAYS="2555")

    assert result.returncode != 0
    assert "PARLEY_RETENTION_DEFAULT_DAYS=2190 is below the retention floor of 2555 days" in result.stderr


@pytest.mark.parametrize("database_url", ["sqlite:////tmp/parley-deploy-check.sqlite3"])
def test_check_deploy_prints_no_warnings_in_production_mode(tmp_path, database_url):
    result = run_django(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **PRODUCTION, DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stdout + result.stderr
    # No check is silenced (axes.W006, which asks for the address among the lockout parameters, once was).
    assert settings.SILENCED_SYSTEM_CHECKS == []
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_production_starts_without_a_vapid_key_with_web_push_off_and_refuses_a_malformed_one(tmp_path):
    print_key = [
        "-c",
        "import django; django.setup(); from django.conf import settings as s; print(repr(s.PARLEY_VAPID_PRIVATE_KEY))",
    ]

    without = run_django(print_key, tmp_path, **PRODUCTION)
    malformed = run_django(print_key, tmp_path, **PRODUCTION, PARLEY_VAPID_PRIVATE_KEY="not-a-key")

    assert (without.returncode, without.stdout.strip()) == (0, "''")
    assert malformed.returncode != 0
    assert "PARLEY_VAPID_PRIVATE_KEY" in malformed.stderr


PRINT_BACKENDS = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; print(','.join(s.AUTHENTICATION_BACKENDS))",
]


def test_ldap_sign_in_is_between_the_lockout_and_local_passwords_only_when_a_directory_is_set(tmp_path):
    without = run_django(PRINT_BACKENDS, tmp_path)
    with_ldap = run_django(PRINT_BACKENDS, tmp_path, PARLEY_LDAP_SERVER_URI="ldaps://dc1.corp.example.com")

    assert without.stdout.split() == ["axes.backends.AxesStandaloneBackend,accounts.backends.LocalPasswordBackend"]
    assert with_ldap.stdout.strip().split(",") == [
        "axes.backends.AxesStandaloneBackend",
        "accounts.ldap.ParleyLDAPBackend",
        "accounts.backends.LocalPasswordBackend",
    ]


def test_a_directory_without_the_ldap_packages_is_refused_at_start_saying_what_to_install(tmp_path):
    without_package = ["-c", "import sys; sys.modules['django_auth_ldap'] = None; " + PRINT_BACKENDS[1]]

    result = run_django(without_package, tmp_path, PARLEY_LDAP_SERVER_URI="ldaps://dc1.corp.example.com")

    assert result.returncode != 0
    assert "django_auth_ldap is not installed: pip install -r requirements-ldap.txt" in result.stderr


def test_local_passwords_are_on_or_off_and_nothing_else(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_LOCAL_PASSWORDS="sometimes")

    assert result.returncode != 0
    assert "PARLEY_LOCAL_PASSWORDS must be 'on' or 'off'" in result.stderr


def test_single_sign_on_with_a_client_id_but_no_endpoints_refuses_to_start(tmp_path):
    result = run_django(PRINT_SETTINGS, tmp_path, PARLEY_OIDC_CLIENT_ID="parley")

    assert result.returncode != 0
    assert "PARLEY_OIDC_CLIENT_SECRET, PARLEY_OIDC_ISSUER, PARLEY_OIDC_AUTHORIZATION_ENDPOINT" in result.stderr
