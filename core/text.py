"""Checks on text from outside, shared by every transport."""

from __future__ import annotations

from typing import Any

NUL_REFUSED = "Text may not contain NUL characters (U+0000)."


def contains_nul(value: Any) -> bool:
    """Whether a string anywhere in `value` (nested lists and dicts, keys too) holds U+0000. PostgreSQL
    cannot store it in a text column, and no message or name needs it, so inputs holding it are refused
    at the door rather than failing at the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False
