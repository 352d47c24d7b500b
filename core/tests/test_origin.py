"""The Origin rule for sockets, on handshake scopes as any ASGI server builds them (config/tests/test_asgi.py
goes through the whole application)."""

from core.origin import socket_origin_allowed


def handshake(*, origin: str | None, host: str = "localhost", scheme: str | None = None) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {"type": "websocket", "path": "/ws/", "headers": headers}
    if scheme:
        scope["scheme"] = scheme
    return scope


def test_a_wss_socket_belongs_to_the_https_page_only():
    assert socket_origin_allowed(handshake(origin="https://localhost", scheme="wss"))
    assert not socket_origin_allowed(handshake(origin="http://localhost", scheme="wss"))


def test_an_opaque_null_origin_from_a_sandboxed_page_or_file_is_refused():
    assert not socket_origin_allowed(handshake(origin="null"))


def test_an_origin_that_only_starts_like_ours_is_refused():
    assert not socket_origin_allowed(handshake(origin="http://localhost.evil.example"))
    assert not socket_origin_allowed(handshake(origin="http://localhost/"))


def test_a_handshake_without_a_host_is_refused():
    assert not socket_origin_allowed({"type": "websocket", "headers": [(b"origin", b"http://localhost")]})
