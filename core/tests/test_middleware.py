"""Requests holding U+0000 are refused with a 400 before any view or database sees them."""

import json

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice():
    client = Client()
    client.force_login(UserFactory(username="alice"))
    return client


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("delete", "/api/v1/contacts/a%00b", None),  # in the path
        ("get", "/api/v1/users?search=a%00b", None),  # in the query
        ("post", "/api/v1/contacts", {"username": "a\x00b"}),  # in a JSON body
        ("post", "/api/v1/rooms", {"name": "ok", "members": ["a\x00b"]}),  # nested
    ],
)
def test_the_api_refuses_nul_characters_with_a_clear_400(as_alice, method, path, data):
    body = {} if data is None else {"data": json.dumps(data), "content_type": "application/json"}

    response = getattr(as_alice, method)(path, **body)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_request", "message": "Text may not contain NUL characters (U+0000)."}


def test_a_form_post_holding_nul_is_refused_too(client):
    response = client.post("/accounts/login/", {"username": "a\x00b", "password": "x"})

    assert response.status_code == 400
    assert b"NUL" in response.content


def test_ordinary_requests_pass(as_alice):
    assert as_alice.get("/api/v1/users?search=alice").status_code == 200
