import re
from html.parser import HTMLParser

import pytest

from messenger.payloads import message_payload
from messenger.rendering import render_body
from messenger.services import direct_open, message_delete
from messenger.tests.factories import UserFactory, send


class ElementsSeen(HTMLParser):
    """What a browser would build from the HTML: each element with its attributes, and the text shown."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def assert_inert(html: str) -> None:
    """Nothing a browser would run or load: allow-listed tags only, no event handlers, only web and mail links.
    Empty output is inert too, but it would hide a renderer that dropped the message, so it fails here."""
    seen = ElementsSeen(html)
    assert seen.elements and seen.text.strip(), f"rendered nothing a reader would see: {html!r}"
    for tag, attributes in seen.elements:
        assert tag in {"p", "br", "strong", "em", "code", "pre", "a"}, html
        assert set(attributes) <= ({"href", "target", "rel"} if tag == "a" else set()), html
        if "href" in attributes:
            assert re.match(r"(https?|mailto):", attributes["href"] or ""), html
            assert attributes["rel"] == "noopener noreferrer nofollow", html


def test_plain_text_is_a_paragraph():
    assert render_body("lunch at noon?") == "<p>lunch at noon?</p>"


def test_bold_italic_and_inline_code():
    html = render_body("**ship** it _today_, run `make test`")

    assert html == "<p><strong>ship</strong> it <em>today</em>, run <code>make test</code></p>"


def test_code_block_keeps_its_text_escaped():
    html = render_body("```python\nif a < b and c > d:\n    print('<b>&</b>')\n```")

    assert html.startswith("<pre><code>")
    assert "if a &lt; b and c &gt; d:" in html
    assert "print('&lt;b&gt;&amp;&lt;/b&gt;')" in html
    assert "language-" not in html  # the class markdown-it adds is dropped with every other attribute


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(document.cookie)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "```\n</code></pre><script>alert(1)</script>\n```",
        "`</code><script>alert(1)</script>`",
    ],
)
def test_script_tags_are_shown_as_text(body):
    html = render_body(body)

    assert_inert(html)
    assert "&lt;script" in html.lower()


@pytest.mark.parametrize(
    "body",
    [
        "<img src=x onerror=alert(1)>",
        '<a href="http://ok.example" onclick="alert(1)">x</a>',
        "<svg onload=alert(1)>",
        '<iframe src="javascript:alert(1)"></iframe>',
        '<p style="background:url(javascript:alert(1))">x</p>',
    ],
)
def test_raw_html_with_event_handlers_is_escaped(body):
    html = render_body(body)

    assert_inert(html)
    assert html.startswith("<p>&lt;")


def test_markdown_images_do_not_load():
    html = render_body("![tracker](https://evil.example/pixel.png)")

    assert "<img" not in html
    assert_inert(html)


@pytest.mark.parametrize(
    "body",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](java\tscript:alert(1))",
        "[click](javascript&#58;alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
        "<javascript:alert(1)>",
        "javascript:alert(1)",
    ],
)
def test_script_links_never_become_links_that_run(body):
    html = render_body(body)

    assert_inert(html)
    assert not any(tag == "a" for tag, _ in ElementsSeen(html).elements), html


def test_relative_links_lose_their_target():
    html = render_body("[admin](/admin/)")

    assert "href" not in html


@pytest.mark.parametrize(
    "body",
    [
        "**[x](javascript:alert(1))**",
        "[**x**](javascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        '[x](http://ok.example "a" onmouseover="alert(1)")',
        "_<img src=x onerror=alert(1)>_",
        "[x]: javascript:alert(1)\n\n[x]",
        "<<script>script>alert(1)<</script>/script>",
        "**<b onmouseover=alert(1)>x</b>**",
    ],
)
def test_nested_markdown_tricks_stay_inert(body):
    assert_inert(render_body(body))


def test_links_are_made_clickable_and_open_safely():
    html = render_body("docs at https://intranet.example/wiki?a=1&b=2 and www.example.com")

    assert (
        '<a href="https://intranet.example/wiki?a=1&amp;b=2" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )
    assert '<a href="http://www.example.com" target="_blank" rel="noopener noreferrer nofollow">' in html


def test_markdown_links_keep_only_safe_attributes():
    html = render_body('[the plan](https://intranet.example/plan "title")')

    assert html == (
        '<p><a href="https://intranet.example/plan" target="_blank" rel="noopener noreferrer nofollow">the plan</a></p>'
    )


def test_email_addresses_become_mailto_links():
    assert 'href="mailto:bob@example.com"' in render_body("write to bob@example.com")


def test_lines_that_look_like_headings_or_lists_stay_as_typed():
    html = render_body("# 1 on the list\n- milk\n> not a quote")

    assert html == "<p># 1 on the list<br>\n- milk<br>\n&gt; not a quote</p>"


def test_single_newlines_are_kept():
    assert render_body("one\ntwo") == "<p>one<br>\ntwo</p>"


@pytest.mark.django_db
def test_message_payload_carries_the_rendered_html_and_none_once_deleted():
    alice = UserFactory(username="alice")
    UserFactory(username="bob")
    chat = direct_open(user=alice, other_username="bob")
    message = send(alice, chat, body="**hi** <script>x</script>")

    assert message_payload(message)["html"] == "<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>"

    deleted = message_delete(editor=alice, message_id=message.pk)

    assert message_payload(deleted)["html"] is None


@pytest.mark.django_db
def test_sending_renders_the_body_once_for_the_delivered_frame_and_the_ack(monkeypatch):
    from messenger import handlers, payloads, protocol
    from messenger.tests.factories import room_with

    alice = UserFactory(username="alice")
    room = room_with(alice)
    rendered = []
    monkeypatch.setattr(payloads, "render_body", lambda body: rendered.append(body) or render_body(body))
    command = protocol.parse_client_frame(
        {"type": "message.send", "conversation_id": room.pk, "client_id": "c1", "body": "**once**"}
    )

    ack = handlers.dispatch(alice, command)

    assert ack["message"]["html"] == "<p><strong>once</strong></p>"
    assert rendered == ["**once**"]


@pytest.mark.django_db
def test_an_edited_message_is_rendered_again():
    alice = UserFactory(username="alice")
    message = send(alice, direct_open(user=alice, other_username="alice"), "first")
    assert message_payload(message)["html"] == "<p>first</p>"

    message.body = "second"

    assert message_payload(message)["html"] == "<p>second</p>"
