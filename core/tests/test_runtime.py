import stat

from core.runtime import read_or_create_secret


def test_secret_is_created_once_private_and_then_reused(tmp_path):
    path = tmp_path / "nested" / "secret"

    first = read_or_create_secret(path, lambda: "first-value")
    second = read_or_create_secret(path, lambda: "another-value")

    assert first == second == "first-value"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
