"""The documentation's promises point at tests that exist: a renamed or deleted test breaks the build, not the
table in docs/security.md that says what protects each door."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_REFERENCE = re.compile(r"`([\w/]*test_\w+\.py)?(?:::(\w+))?(?:::(\w+))?`")


def referenced_tests(document: Path) -> list[tuple[str, str | None]]:
    """(test file, test name or class) for every `file.py::name` in the document; `::name` continues the
    file named last in the same table cell or sentence."""
    found, current = [], None
    for match in TEST_REFERENCE.finditer(document.read_text()):
        path, name, _ = match.groups()
        if path:
            current = path
        if current and (path or name):
            found.append((current, name))
    return found


def files_named(name: str) -> list[Path]:
    """The test files a reference names: by its path below the repository, or below any app's tests/."""
    candidates = [ROOT / name, *ROOT.glob(f"*/tests/{name}")]
    return [path for path in candidates if path.is_file()]


def test_every_test_that_docs_security_names_exists():
    references = referenced_tests(ROOT / "docs" / "security.md")
    assert len(references) > 30  # the role table alone names more; fewer means the pattern broke

    missing = []
    for name, test in references:
        files = files_named(name)
        if len(files) != 1:
            missing.append(f"{name} ({len(files)} files)")
        elif test and not re.search(rf"^\s*(async def|def|class) {test}\b", files[0].read_text(), re.MULTILINE):
            missing.append(f"{name}::{test}")
    assert missing == []
