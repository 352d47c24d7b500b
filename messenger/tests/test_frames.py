"""Every frame type the server sends (docs/protocol.md, "Server → client") has exactly one builder, in
messenger/frames.py, accounts/frames.py, calls/frames.py or games/frames.py, and nothing else in the code builds
one."""

import ast
import re
from pathlib import Path

from accounts import frames as people_frames
from core.errors import ParleyError
from messenger import frames

ROOT = Path(__file__).resolve().parents[2]
FRAME_MODULES = [
    ROOT / "messenger" / "frames.py",
    ROOT / "accounts" / "frames.py",
    ROOT / "calls" / "frames.py",
    ROOT / "games" / "frames.py",
]
# The Python client builds client frames ("read", "typing" are both client and server types).
CLIENT_SIDE = {ROOT / "messenger" / "client.py"}


def documented_server_frames() -> set[str]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Server → client", 1)[1].split("\n## ", 1)[0]
    types = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            types.update(re.findall(r"`([\w.]+)`", line.split("|")[1]))
    return types


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
    for app in ("accounts", "messenger", "archive", "calls", "games", "core", "config"):
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts or path in [*FRAME_MODULES, *CLIENT_SIDE]:
                continue
            built = [kind for kind in frame_types_built(ast.parse(path.read_text())) if kind in documented]
            builders_elsewhere += [f"{path.relative_to(ROOT)}: {kind}" for kind in built]

    assert builders_elsewhere == []


def test_a_builder_is_named_after_its_frame_type():
    for kind, (where,) in builders().items():
        assert where.endswith(":" + kind.replace(".", "_") + "_frame"), where


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
