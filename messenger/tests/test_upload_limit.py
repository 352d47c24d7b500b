"""messenger/upload_limit.py: a file declaring more than PARLEY_MAX_UPLOAD_MB is refused before its body is read."""

import json

from messenger.upload_limit import FRAMING_BYTES, RefuseOversizedUploads

MB = 1024 * 1024


def upload_scope(length: int | None, path: str = "/api/v1/conversations/7/files") -> dict:
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"host", b"testserver")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def body_that_must_not_be_read() -> dict:
    raise AssertionError("the body was read")


async def answer_of(app, scope, receive=body_that_must_not_be_read) -> tuple[int, dict]:
    sent = []

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    body = b"".join(message.get("body", b"") for message in bodies)
    return start["status"], (json.loads(body) if body else {})


async def test_an_upload_declaring_more_than_the_limit_gets_413_file_too_large_before_a_byte_is_read(settings):
    from config.asgi import application

    settings.PARLEY_MAX_UPLOAD_MB = 1

    status, answer = await answer_of(application, upload_scope(MB + FRAMING_BYTES + 1))

    assert (status, answer["code"]) == (413, "file_too_large")
    assert answer["message"] == "Files are at most 1 MB."


async def test_an_upload_within_the_limit_or_of_unknown_length_and_other_requests_reach_the_application(settings):
    """The wrapper decides from the declared length alone; everything else is for Django (and upload_read)."""
    settings.PARLEY_MAX_UPLOAD_MB = 1
    reached = []

    async def django(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RefuseOversizedUploads(django)
    within = await answer_of(app, upload_scope(MB + FRAMING_BYTES))
    chunked = await answer_of(app, upload_scope(None))
    a_message = await answer_of(app, upload_scope(2 * MB, path="/api/v1/conversations/7/messages"))

    assert [within[0], chunked[0], a_message[0]] == [201, 201, 201]
    assert len(reached) == 3
