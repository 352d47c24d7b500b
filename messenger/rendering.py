"""Message text to safe HTML: the little markdown a chat needs, clickable links, and nothing that can run.

Two layers, so one mistake is not enough for a message to run script in another user's browser:
markdown-it-py renders with raw HTML off (a `<script>` typed by someone is escaped text), and nh3 (Ammonia)
then keeps only a short allow-list of tags and attributes and only http, https and mailto links.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "a"}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

# CommonMark without the block and inline rules whose output the allow-list would drop anyway: a line that
# starts with "#", "-", "1." or ">" stays as typed instead of turning into a heading, list or quote whose
# tags the sanitizer strips. Indented code is off too (chat text is often indented by accident); fenced
# blocks (```) make code blocks. Single newlines become <br>, as people expect in a chat.
_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    .enable("linkify")
    .disable(["code", "heading", "lheading", "list", "blockquote", "hr", "reference", "html_block"])
    .disable(["image", "html_inline"])
)


# Built once: Ammonia compiles its rules. `"*": set()` drops Ammonia's default generic attributes (title,
# lang); links keep only href, get target=_blank and a forced rel, and relative URLs are removed.
_sanitizer = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes={"*": set(), "a": {"href"}},
    url_schemes=ALLOWED_URL_SCHEMES,
    url_relative="deny",
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
)


def render_body(body: str) -> str:
    """The HTML shown for a message body: escaped text with bold, italic, code, code blocks and links."""
    return _sanitizer.clean(_markdown.render(body)).strip()
