"""messenger/api/__init__.py: authentication, errors mapped in one place (clear 4xx, never a 5xx), the schema."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.services import api_token_create, api_token_revoke
from messenger.tests.api import post
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db


def test_unauthenticated_requests_get_401_json():
    response = Client().get("/api/v1/conversations")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_session_post_without_csrf_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = post(client, "/api/v1/rooms", {"name": "sneaky"})

    assert response.status_code == 403


def test_an_api_token_authenticates_until_revoked_or_the_user_is_deactivated(alice):
    token_record, token = api_token_create(user=alice, name="bot")
    bot = Client(HTTP_AUTHORIZATION=f"Bearer {token}", enforce_csrf_checks=True)

    assert bot.get("/api/v1/me").json()["username"] == "alice"
    assert post(bot, "/api/v1/rooms", {"name": "bot-room"}).status_code == 201  # no CSRF for tokens
    assert Client(HTTP_AUTHORIZATION="Bearer pat_wrong").get("/api/v1/me").status_code == 401
    alice.is_active = False
    alice.save()
    assert bot.get("/api/v1/me").status_code == 401
    alice.is_active = True
    alice.save()
    api_token_revoke(token=token_record)
    assert bot.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("path", "payload", "code"),
    [
        ("/api/v1/rooms", {"name": ""}, "invalid_request"),
        ("/api/v1/rooms", {"name": "x", "members": ["nobody"]}, "user_not_found"),
        ("/api/v1/conversations/direct", {}, "invalid_request"),
        ("/api/v1/conversations/1/messages", {"client_id": "c", "body": "x" * 10_001}, "invalid_request"),
        ("/api/v1/conversations/1/read", {"seq": "soon"}, "invalid_request"),
    ],
)
def test_bad_input_gets_a_clear_4xx_with_a_code(as_alice, alice, path, payload, code):
    room_with(alice)

    response = post(as_alice, path, payload)

    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code


def test_a_room_name_already_taken_gets_400_room_invalid(as_alice):
    assert post(as_alice, "/api/v1/rooms", {"name": "trading"}).status_code == 201

    taken = post(as_alice, "/api/v1/rooms", {"name": "trading"})

    assert (taken.status_code, taken.json()["code"]) == (400, "room_invalid")


def test_malformed_input_never_causes_a_5xx(as_alice, alice):
    room = room_with(alice)
    ids = ["0", "-1", "abc", "99999999999999999999999", str(room.pk)]
    bodies = ["", "{", "[]", "null", '"text"', '{"client_id": 5}', json.dumps({"usernames": "bob"}), "\x00"]
    paths = [
        "/api/v1/users/{id}",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/conversations/{id}/read",
        "/api/v1/rooms/{id}/join",
        "/api/v1/rooms/{id}/invite",
        "/api/v1/rooms/{id}/leave",
        "/api/v1/conversations/direct",
        "/api/v1/rooms",
        "/api/v1/users?limit=-5",
        "/api/v1/conversations/{id}/messages?before_seq=-1&limit=100000",
    ]
    statuses = set()
    for path in paths:
        for conversation_id in ids:
            url = path.format(id=conversation_id)
            statuses.add(as_alice.get(url).status_code)
            for body in bodies:
                statuses.add(as_alice.post(url, body, content_type="application/json").status_code)

    assert max(statuses) < 500, statuses


API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
# A row of docs/api.md's endpoint table: | `PATCH /api/v1/rooms/{id}/members/{username}` | ... (query strings aside).
DOCUMENTED_ENDPOINT = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`?\s]*)[^`]*` \|", re.MULTILINE)


def without_parameter_names(path: str) -> str:
    """The docs write `{id}` where the schema says `{room_id}`; the place of a parameter is what must agree."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_the_openapi_schema_describes_every_endpoint_docs_api_md_documents_and_no_other(as_alice):
    schema = as_alice.get("/api/v1/openapi.json").json()  # the schema, like the docs, needs a sign-in
    documented = {
        (method, without_parameter_names(path)) for method, path in DOCUMENTED_ENDPOINT.findall(API_DOC.read_text())
    }
    served = {
        (method.upper(), without_parameter_names(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }

    assert schema["info"]["version"] == "1"
    assert len(documented) >= 30  # the table was read, not skipped by a broken pattern
    assert sorted(served - documented) == [], "served but not in docs/api.md"
    assert sorted(documented - served) == [], "in docs/api.md but not in the schema"


def test_a_value_the_database_refuses_is_a_400_not_a_500(as_alice, alice, monkeypatch):
    from django.db import DataError

    from messenger import services

    def refused(**kwargs):
        raise DataError("value too long for type character varying(64)")

    monkeypatch.setattr(services, "message_send", refused)
    response = post(as_alice, f"/api/v1/conversations/{room_with(alice).pk}/messages", {"client_id": "c", "body": "x"})

    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
