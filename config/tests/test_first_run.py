"""What `make run` does on a fresh machine, for real: migrate an empty SQLite database (the embedded default)
and seed the demo company. The suite itself runs on PostgreSQL in CI, so without this a migration that only
PostgreSQL understands would pass every other test and break the first `make run`."""

import json
import os
import subprocess
import sys
from pathlib import Path

from accounts.roles import ROLE_PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
PRINT_ROLE_PERMISSIONS = """
import json
from django.contrib.auth.models import Group
print(json.dumps({
    group.name: sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())
    for group in Group.objects.all()
}))
"""


def manage(*args: str, database: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PARLEY_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {"DATABASE_URL": f"sqlite:///{database}", "PARLEY_MEDIA_ROOT": str(tmp_path / "media")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )


def test_an_empty_sqlite_database_migrates_forwards_and_back_and_takes_the_demo_company(tmp_path):
    database = tmp_path / "first-run.sqlite3"

    migrated = manage("migrate", "--noinput", database=database, tmp_path=tmp_path)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    # Every role whole after that one migrate, permissions of the apps migrated after accounts included.
    roles = manage("shell", "-c", PRINT_ROLE_PERMISSIONS, database=database, tmp_path=tmp_path)
    assert roles.returncode == 0, roles.stderr[-3000:]
    expected = {role: sorted(names) for role, names in ROLE_PERMISSIONS.items()}
    assert json.loads(roles.stdout.splitlines()[-1]) == expected
    seeded = manage("seed_demo", "--if-empty", database=database, tmp_path=tmp_path)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    # The newest sealing migrations hold data now; each must also unapply and apply again on SQLite.
    for app, before in (("messenger", "0002"), ("accounts", "0006")):
        back = manage("migrate", app, before, "--noinput", database=database, tmp_path=tmp_path)
        assert back.returncode == 0, back.stderr[-3000:]
    again = manage("migrate", "--noinput", database=database, tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]


def test_reset_demo_removes_the_database_and_every_uploaded_file_but_keeps_the_keys(tmp_path):
    var = tmp_path / "var"
    (var / "media" / "attachments" / "2026").mkdir(parents=True)
    (var / "media" / "attachments" / "2026" / "photo.jpg.sealed").write_bytes(b"sealed bytes")
    for name in ("parley.sqlite3", "parley.sqlite3-wal", "encryption_keys", "archive_signing_key"):
        (var / name).write_text("x")

    reset = subprocess.run(
        ["make", "--no-print-directory", "reset-demo", f"PARLEY_VAR_DIR={var}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert reset.returncode == 0, reset.stderr
    assert sorted(path.name for path in var.iterdir()) == ["archive_signing_key", "encryption_keys"]
