"""A SCIM client against a real daphne worker over HTTP, as Entra ID would call it: create, update, group
membership, deactivation (a live socket of the person signed out at once, not at a session check), delete."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from accounts import roles
from accounts.models import User
from accounts.scim.protocol import ENTERPRISE_SCHEMA, USER_SCHEMA
from accounts.services import scim_token_issue
from accounts.tests.factories import TEST_PASSWORD
from core.testing import SignedInSocket, start_daphne_worker

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROLE_GROUPS = "IT Admins=Parley IT"


@pytest.fixture
def worker(tmp_path):
    # Sign-outs pushed, not polled: the session check, the only other way a socket could close, is an hour away.
    environment = {"PARLEY_SCIM_ROLE_GROUPS": ROLE_GROUPS, "PARLEY_SESSION_CHECK_SECONDS": "3600"}
    started = start_daphne_worker(tmp_path, environment)
    yield started
    started.stop()


def scim_call(worker, token: str, method: str, path: str, body=None) -> tuple[int, dict | None]:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL the test built)
        f"{worker.http_url}/scim/v2/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            content = response.read()
            return response.status, json.loads(content) if content else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_a_provider_keeps_a_person_over_real_http_and_deactivation_signs_their_window_out(worker):
    roles.role_permissions_apply()
    _, token = scim_token_issue(name="Entra ID", actor=None)

    status, dana = scim_call(
        worker,
        token,
        "POST",
        "Users",
        {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": "dana@example.com",
            "displayName": "Dana Scully",
            "emails": [{"value": "dana@example.com", "type": "work", "primary": True}],
            ENTERPRISE_SCHEMA: {"department": "Risk"},
        },
    )
    assert status == 201, dana
    found = scim_call(worker, token, "GET", "Users?filter=userName%20eq%20%22dana@example.com%22")[1]
    assert [user["id"] for user in found["Resources"]] == [dana["id"]]

    scim_call(worker, token, "PATCH", f"Users/{dana['id']}", patch("replace", "title", "Analyst"))
    status, group = scim_call(worker, token, "POST", "Groups", {"displayName": "Parley IT"})
    assert status == 201
    scim_call(worker, token, "PATCH", f"Groups/{group['id']}", patch("add", "members", [{"value": dana["id"]}]))
    person = User.objects.get(username="dana@example.com")
    assert (person.job_title, person.department) == ("Analyst", "Risk")
    assert set(person.groups.values_list("name", flat=True)) == {roles.EMPLOYEES, roles.IT_ADMINS}
    # IT Admins need a second factor to sign in: leave the group again before signing in with a password.
    scim_call(worker, token, "PATCH", f"Groups/{group['id']}", patch("remove", f'members[value eq "{dana["id"]}"]'))
    person.set_password(TEST_PASSWORD)  # set by IT (SCIM never sets passwords)
    person.save(update_fields=["password"])

    async def deactivate_while_signed_in() -> dict:
        window = await SignedInSocket.open(worker.http_url, "dana@example.com", TEST_PASSWORD)
        status, _ = await asyncio.to_thread(
            scim_call, worker, token, "PATCH", f"Users/{dana['id']}", patch("replace", "active", False)
        )
        assert status == 200
        frame = await window.wait_for(lambda frame: frame["type"] == "signed_out", seconds=10)
        await window.session.close()
        return frame

    signed_out = asyncio.run(deactivate_while_signed_in())

    assert signed_out["reason"] == "deactivated"
    assert scim_call(worker, token, "DELETE", f"Users/{dana['id']}")[0] == 204
    assert scim_call(worker, token, "GET", f"Users/{dana['id']}")[0] == 404
    assert User.objects.filter(username="dana@example.com", is_active=False).exists()


def patch(op: str, path: str, value=None) -> dict:
    operation = {"op": op, "path": path} | ({"value": value} if value is not None else {})
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]}
