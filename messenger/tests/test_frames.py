"""Every frame type the server sends (docs/protocol.md, "Server → client") has exactly one builder, in
messenger/frames.py, accounts/frames.py, calls/frames.py or games/frames.py, and nothing else in the code builds
one. The document's error codes are the ones the code defines, and tests produce every code and frame it lists."""

import ast
import re
from pathlib import Path

from accounts import frames as people_frames
from core.errors import ParleyError
from messenger import frames

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "archive", "calls", "config", "core", "games", "messenger")
FRAME_MODULES = [
    ROOT / "messenger" / "frames.py",
    ROOT / "accounts" / "frames.py",
    ROOT / "calls" / "frames.py",
    ROOT / "games" / "frames.py",
]
# The Python client builds client frames ("read", "typing" are both client and server types).
CLIENT_SIDE = {ROOT / "messenger" / "client.py"}


def documented_table(heading: str) -> dict[str, str]:
    """The first column's names (in backquotes) of the table under `heading`, each with its row's last cell."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = line.split("|")
            for name in re.findall(r"`([\w.]+)`", cells[1]):
                rows[name] = cells[-2].strip()
    return rows


def documented_server_frames() -> set[str]:
    return set(documented_table("Server → client"))


def documented_error_codes() -> dict[str, str]:
    return documented_table("Error codes")


# Codes the code defines that no socket frame can meet, so docs/protocol.md leaves them to docs/api.md, the admin
# or the commands that raise them. A new code is either documented for the socket or added here, on purpose.
NOT_SOCKET_CODES = {
    "error",  # ParleyError's default; every refusal names its own
    # HTTP API, sign-in, admin and operator commands only:
    "api_token_refused",
    "contact_invalid",
    "current_code_required",
    "directory_config_invalid",
    "directory_sync_refused",
    "directory_unavailable",
    "file_infected",
    "file_invalid",
    "file_too_large",
    "forbidden",
    "import_conflict",
    "import_file_invalid",
    "invalid_login",  # Django's own, kept by the admin's sign-in form (accounts.sign_in_views)
    "invalid_request",  # the OIDC back-channel logout endpoint's answers, named as the spec names them
    "local_passwords_off",
    "matter_invalid",
    "profile_invalid",
    "push_subscription_invalid",
    "scanner_unavailable",
    "search_invalid",
    "session_not_found",
    "sign_in_refused",
    "superuser_only",
    "temporarily_unavailable",  # the OIDC back-channel logout endpoint, when the provider's keys cannot be fetched
    "supervision_invalid",
    "two_factor_invalid",
    "two_factor_required",
    "unsubscribe_link_invalid",
}


def source_files(*, tests: bool) -> list[Path]:
    paths = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and ("tests" in path.parts) == tests:
                paths.append(path)
    return paths


def error_codes_defined() -> set[str]:
    """Every `code = "..."` of a class (ParleyError's subclasses) and every `code="..."` a refusal is raised with."""
    codes = set()
    for path in source_files(tests=False):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and [getattr(target, "id", None) for target in statement.targets] == ["code"]
                        and isinstance(statement.value, ast.Constant)
                    ):
                        codes.add(statement.value.value)
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        codes.add(keyword.value.value)
    return codes


def strings_in(paths: list[Path]) -> set[str]:
    return {
        node.value
        for path in paths
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def frame_types_built(tree: ast.AST) -> list[str]:
    """The "type" of every dict literal in `tree` that has a constant one."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant):
                    found.append(value.value)
    return found


def builders() -> dict[str, list[str]]:
    """frame type -> the builders (module:function) that make it."""
    built: dict[str, list[str]] = {}
    for path in FRAME_MODULES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_frame"):
                types = frame_types_built(node)
                assert len(types) == 1, f"{path.name}:{node.name} builds {types or 'no frame'}, not one"
                built.setdefault(types[0], []).append(f"{path.parent.name}/{path.name}:{node.name}")
    return built


def test_every_documented_server_frame_has_exactly_one_builder_and_every_builder_is_documented():
    documented = documented_server_frames()
    built = builders()

    assert len(documented) > 15  # the table was found and read
    assert sorted(documented - built.keys()) == [], "documented frames without a builder"
    assert sorted(built.keys() - documented) == [], "builders of frames docs/protocol.md does not describe"
    assert {kind: where for kind, where in built.items() if len(where) > 1} == {}, "frames with several builders"


def test_no_module_but_the_frame_modules_builds_a_server_frame():
    documented = documented_server_frames()
    builders_elsewhere = []
    for path in source_files(tests=False):
        if path in [*FRAME_MODULES, *CLIENT_SIDE]:
            continue
        built = [kind for kind in frame_types_built(ast.parse(path.read_text())) if kind in documented]
        builders_elsewhere += [f"{path.relative_to(ROOT)}: {kind}" for kind in built]

    assert builders_elsewhere == []


def test_a_builder_is_named_after_its_frame_type():
    for kind, (where,) in builders().items():
        assert where.endswith(":" + kind.replace(".", "_") + "_frame"), where


def test_the_documented_error_codes_are_exactly_the_ones_the_code_can_send_over_the_socket():
    documented = set(documented_error_codes())
    defined = error_codes_defined()

    assert len(documented) > 30  # the table was found and read
    assert sorted(documented - defined) == [], "documented codes nothing raises"
    assert sorted(defined - NOT_SOCKET_CODES - documented) == [], "codes docs/protocol.md does not list"
    assert sorted(NOT_SOCKET_CODES - defined) == [], "NOT_SOCKET_CODES names codes that no longer exist"
    assert sorted(NOT_SOCKET_CODES & documented) == [], "documented for the socket, yet listed as not sent there"


def test_every_documented_error_code_and_server_frame_is_met_by_a_test():
    """A code or frame no test names could change or vanish unnoticed. Socket codes must be named in a test that
    talks to the socket through the ASGI app; the few marked "HTTP API only", and frames, in a test of any kind
    (some frames are caught from the channel layer, not a socket)."""
    tests = [path for path in source_files(tests=True) if path != Path(__file__)]
    over_the_socket = [path for path in tests if "socket_to_app" in path.read_text()]
    named_anywhere, named_over_the_socket = strings_in(tests), strings_in(over_the_socket)

    unmet_codes = [
        code
        for code, meaning in documented_error_codes().items()
        if code not in (named_anywhere if "HTTP API only" in meaning else named_over_the_socket)
    ]
    unmet_frames = sorted(documented_server_frames() - named_anywhere)

    assert len(over_the_socket) >= 3  # the socket tests were found
    assert unmet_codes == []
    assert unmet_frames == []


def test_error_frames_echo_the_ref_of_the_frame_they_answer_when_there_is_one():
    refusal = ParleyError("No.", code="not_allowed")

    assert frames.error_frame(refusal, ref="r7") == {
        "type": "error",
        "code": "not_allowed",
        "message": "No.",
        "ref": "r7",
    }
    assert "ref" not in frames.error_frame(refusal)


def test_presence_frames_carry_last_seen_and_status_message_only_when_given():
    assert people_frames.presence_frame(user_id=1, state="away", version=3) == {
        "type": "presence",
        "user_id": 1,
        "state": "away",
        "version": 3,
    }
    offline = people_frames.presence_frame(user_id=1, state="offline", version=4, last_seen="2026-11-25T09:00:00")
    assert offline["last_seen"] == "2026-11-25T09:00:00"
