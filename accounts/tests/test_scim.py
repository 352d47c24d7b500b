"""/scim/v2/ through the real HTTP stack (middleware, URLs, views): an identity provider's client creating,
finding, updating, grouping, deactivating and deleting people, and everything it may get wrong."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client

from accounts import roles
from accounts.models import ScimGroup, User
from accounts.scim.protocol import ENTERPRISE_SCHEMA, ERROR_SCHEMA, USER_SCHEMA
from accounts.services import api_token_create, scim_token_issue, scim_token_revoke
from accounts.tests.factories import UserFactory
from core.testing import closes_with, open_socket_for, run_in_threads, session_cookie_for

pytestmark = pytest.mark.django_db

ROLE_GROUPS = "IT Admins=Parley IT;Compliance Officers=Parley Compliance"


@pytest.fixture(autouse=True)
def role_groups(settings):
    settings.PARLEY_SCIM_ROLE_GROUPS = ROLE_GROUPS


class ScimClient:
    """What an identity provider does: JSON over HTTP with its bearer token."""

    def __init__(self, token: str) -> None:
        self.http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = self.http.generic(method, f"/scim/v2/{path}", data=data, content_type="application/scim+json")
        response.document = json.loads(response.content) if response.content else None
        return response

    def create_user(self, username: str, **extra):
        response = self.call("POST", "Users", user_body(username, **extra))
        assert response.status_code == 201, response.document
        return response.document

    def create_group(self, name: str, *member_ids: str):
        response = self.call("POST", "Groups", {"displayName": name, "members": [{"value": m} for m in member_ids]})
        assert response.status_code == 201, response.document
        return response.document


def user_body(username: str, **extra) -> dict:
    """A User as Entra ID sends it with its default attribute mappings."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": f"{username}-object-id",
        "userName": username,
        "active": True,
        "displayName": username.title(),
        "title": "Trader",
        "preferredLanguage": "en-GB",
        "name": {"formatted": username.title(), "givenName": username.title(), "familyName": "Example"},
        "emails": [{"primary": True, "type": "work", "value": f"{username}@example.com"}],
        "addresses": [{"type": "work", "country": "GB"}],
        ENTERPRISE_SCHEMA: {"department": "Sales", "employeeNumber": "42"},
        **extra,
    }


def patch(*operations: dict) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def role_names(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


@pytest.fixture
def provider() -> ScimClient:
    _, token = scim_token_issue(name="Entra ID", actor=None)
    return ScimClient(token)


# ---- users -------------------------------------------------------------------------------------------------


def test_a_created_user_is_an_employee_the_provider_can_read_back_and_find_by_username(provider):
    created = provider.create_user("ann.lee")

    read = provider.call("GET", f"Users/{created['id']}")
    found = provider.call("GET", 'Users?filter=userName eq "ANN.LEE"')

    assert read.status_code == 200
    assert read["Content-Type"] == "application/scim+json"
    assert read.document == created
    assert (created["userName"], created["displayName"], created["title"]) == ("ann.lee", "Ann.Lee", "Trader")
    assert created["emails"][0]["value"] == "ann.lee@example.com"
    assert created[ENTERPRISE_SCHEMA]["department"] == "Sales"
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{created['id']}")
    assert [user["id"] for user in found.document["Resources"]] == [created["id"]]
    ann = User.objects.get(username="ann.lee")
    assert (ann.directory_source, ann.directory_id, ann.has_usable_password()) == ("scim", created["id"], False)
    assert role_names("ann.lee") == {roles.EMPLOYEES}


def test_a_user_is_found_by_id_too(provider):
    provider.create_user("ann")
    bob = provider.create_user("bob")

    found = provider.call("GET", f'Users?filter=id eq "{bob["id"]}"').document

    assert [user["userName"] for user in found["Resources"]] == ["bob"]


def test_a_filter_that_matches_nobody_answers_an_empty_list(provider):
    response = provider.call("GET", 'Users?filter=userName eq "nobody"')

    assert response.status_code == 200
    assert (response.document["totalResults"], response.document["Resources"]) == (0, [])


def test_users_are_listed_a_page_at_a_time(provider):
    ids = [provider.create_user(name)["id"] for name in ("ann", "bob", "cy")]

    page = provider.call("GET", "Users?startIndex=2&count=1").document

    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert [user["id"] for user in page["Resources"]] == [ids[1]]


def test_local_accounts_are_not_listed_to_the_provider(provider):
    UserFactory(username="breakglass", is_superuser=True)
    provider.create_user("ann")

    listed = provider.call("GET", "Users").document

    assert [user["userName"] for user in listed["Resources"]] == ["ann"]


def test_patch_as_entra_id_sends_it_updates_title_email_department_and_manager(provider):
    boss = provider.create_user("boss")
    ann = provider.create_user("ann")

    response = provider.call(
        "PATCH",
        f"Users/{ann['id']}",
        patch(
            {"op": "Replace", "path": "title", "value": "Head trader"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann.lee@example.com"},
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Rates"},
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": boss["id"]},
        ),
    )

    assert response.status_code == 200, response.document
    stored = User.objects.get(username="ann")
    assert (stored.job_title, stored.email, stored.department) == ("Head trader", "ann.lee@example.com", "Rates")
    assert stored.manager.username == "boss"
    assert response.document[ENTERPRISE_SCHEMA]["manager"]["value"] == boss["id"]


def test_patch_without_a_path_as_okta_sends_it_replaces_the_attributes_given(provider):
    ann = provider.create_user("ann")

    provider.call("PATCH", f"Users/{ann['id']}", patch({"op": "replace", "value": {"displayName": "Ann Lee"}}))

    assert User.objects.get(username="ann").display_name == "Ann Lee"


def test_put_replaces_the_user_and_a_new_username_renames_the_same_account(provider):
    ann = provider.create_user("ann")
    pk = User.objects.get(username="ann").pk

    response = provider.call("PUT", f"Users/{ann['id']}", user_body("ann.smith", title="Analyst"))

    assert response.status_code == 200, response.document
    renamed = User.objects.get(pk=pk)
    assert (renamed.username, renamed.job_title, response.document["id"]) == ("ann.smith", "Analyst", ann["id"])


def test_a_user_the_provider_deletes_is_deactivated_kept_and_a_later_create_takes_the_account_back(provider):
    ann = provider.create_user("ann")
    pk = User.objects.get(username="ann").pk

    deleted = provider.call("DELETE", f"Users/{ann['id']}")

    assert deleted.status_code == 204
    assert User.objects.filter(pk=pk, is_active=False).exists()
    assert provider.call("GET", f"Users/{ann['id']}").status_code == 404
    again = provider.create_user("ann")
    assert User.objects.get(username="ann").pk == pk
    assert User.objects.get(pk=pk).is_active and again["active"]


def test_a_local_account_with_the_username_is_taken_over_but_a_superuser_never(provider):
    local = UserFactory(username="ann")
    UserFactory(username="root", is_superuser=True)

    provider.create_user("ann")
    refused = provider.call("POST", "Users", user_body("root"))

    assert User.objects.get(pk=local.pk).directory_source == "scim"
    assert refused.status_code == 409
    assert refused.document["scimType"] == "uniqueness"
    assert User.objects.get(username="root").directory_source == ""


# ---- deactivation closes sockets at once ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_patch_active_false_deactivates_and_closes_the_persons_live_socket_at_once(settings):
    # Pushed, not polled: the session check, the only other way the socket could close, is an hour away.
    settings.PARLEY_SESSION_CHECK_SECONDS = 3600

    def set_up():
        roles.role_permissions_apply()
        _, token = scim_token_issue(name="Entra ID", actor=None)
        client = ScimClient(token)
        return client, client.create_user("dana")["id"]

    provider, dana_id = await database_sync_to_async(set_up)()
    dana = await database_sync_to_async(User.objects.get)(username="dana")
    socket = await open_socket_for(await database_sync_to_async(session_cookie_for)(dana))

    response = await database_sync_to_async(provider.call)(
        "PATCH", f"Users/{dana_id}", patch({"op": "Replace", "path": "active", "value": "False"})
    )

    assert response.status_code == 200
    assert response.document["active"] is False
    assert await closes_with(socket, "deactivated")
    assert not (await database_sync_to_async(User.objects.get)(username="dana")).is_active


# ---- groups and roles -------------------------------------------------------------------------------------


def test_joining_a_mapped_group_grants_its_role_and_leaving_takes_it_away(provider):
    ann = provider.create_user("ann")
    group = provider.create_group("Parley IT")

    joined = provider.call(
        "PATCH", f"Groups/{group['id']}", patch({"op": "Add", "path": "members", "value": [{"value": ann["id"]}]})
    )
    roles_while_member = role_names("ann")
    left = provider.call(
        "PATCH", f"Groups/{group['id']}", patch({"op": "Remove", "path": f'members[value eq "{ann["id"]}"]'})
    )

    assert joined.status_code == left.status_code == 200
    assert [m["value"] for m in joined.document["members"]] == [ann["id"]]
    assert roles_while_member == {roles.EMPLOYEES, roles.IT_ADMINS}
    assert left.document["members"] == []
    assert role_names("ann") == {roles.EMPLOYEES}


def test_a_group_that_maps_to_no_role_grants_nothing_and_makes_no_django_group(provider):
    ann = provider.create_user("ann")

    provider.create_group("Sales EMEA", ann["id"])

    assert role_names("ann") == {roles.EMPLOYEES}
    assert not Group.objects.filter(name="Sales EMEA").exists()
    assert provider.call("GET", f"Users/{ann['id']}").document["groups"][0]["display"] == "Sales EMEA"


def test_a_group_is_created_found_renamed_replaced_and_deleted_and_roles_follow(provider):
    ann, bob = provider.create_user("ann"), provider.create_user("bob")
    group = provider.create_group("Compliance team", ann["id"])
    assert role_names("ann") == {roles.EMPLOYEES}

    found = provider.call("GET", 'Groups?filter=displayName eq "compliance team"&excludedAttributes=members')
    renamed = provider.call(
        "PATCH", f"Groups/{group['id']}", patch({"op": "Replace", "path": "displayName", "value": "Parley Compliance"})
    )
    ann_roles_after_rename = role_names("ann")
    replaced = provider.call(
        "PUT", f"Groups/{group['id']}", {"displayName": "Parley Compliance", "members": [{"value": bob["id"]}]}
    )
    roles_after_replace = role_names("ann"), role_names("bob")
    deleted = provider.call("DELETE", f"Groups/{group['id']}")

    assert [g["id"] for g in found.document["Resources"]] == [group["id"]]
    assert "members" not in found.document["Resources"][0]
    assert renamed.document["displayName"] == "Parley Compliance"
    assert ann_roles_after_rename == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}
    assert [m["value"] for m in replaced.document["members"]] == [bob["id"]]
    assert roles_after_replace == ({roles.EMPLOYEES}, {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS})
    assert deleted.status_code == 204
    assert role_names("bob") == {roles.EMPLOYEES}
    assert provider.call("GET", f"Groups/{group['id']}").status_code == 404
    assert not ScimGroup.objects.exists()


def test_entra_ids_membership_check_finds_the_group_only_with_the_member(provider):
    ann, bob = provider.create_user("ann"), provider.create_user("bob")
    group = provider.create_group("Sales", ann["id"])

    def check(member_id: str) -> list[str]:
        query = f'filter=id eq "{group["id"]}" and members[value eq "{member_id}"]&excludedAttributes=members'
        return [g["id"] for g in provider.call("GET", f"Groups?{query}").document["Resources"]]

    assert (check(ann["id"]), check(bob["id"])) == ([group["id"]], [])


def test_a_role_group_given_to_a_new_member_in_the_create_grants_the_role(provider):
    ann = provider.create_user("ann")

    provider.create_group("PARLEY IT", ann["id"])

    assert role_names("ann") == {roles.EMPLOYEES, roles.IT_ADMINS}


# ---- concurrency -------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_patches_adding_members_to_one_group_keep_every_member():
    _, token = scim_token_issue(name="Entra ID", actor=None)
    provider = ScimClient(token)
    people = [provider.create_user(f"person{n}")["id"] for n in range(6)]
    group = provider.create_group("Parley IT")

    def add(person_id: str) -> None:
        body = patch({"op": "Add", "path": "members", "value": [{"value": person_id}]})
        response = ScimClient(token).call("PATCH", f"Groups/{group['id']}", body)
        assert response.status_code == 200, response.document

    failures = run_in_threads(add, people)

    assert failures == []
    members = provider.call("GET", f"Groups/{group['id']}").document["members"]
    assert sorted(m["value"] for m in members) == sorted(people)
    assert User.objects.filter(groups__name=roles.IT_ADMINS).count() == len(people)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_patches_of_one_person_each_keep_their_change():
    _, token = scim_token_issue(name="Entra ID", actor=None)
    ann = ScimClient(token).create_user("ann")["id"]
    changes = [("title", "Head trader"), (f"{ENTERPRISE_SCHEMA}:department", "Rates"), ("displayName", "Ann Lee")]

    def change(path_and_value: tuple[str, str]) -> None:
        path, value = path_and_value
        response = ScimClient(token).call(
            "PATCH", f"Users/{ann}", patch({"op": "replace", "path": path, "value": value})
        )
        assert response.status_code == 200, response.document

    failures = run_in_threads(change, changes)

    assert failures == []
    stored = User.objects.get(username="ann")
    assert (stored.job_title, stored.department, stored.display_name) == ("Head trader", "Rates", "Ann Lee")


# ---- refusals ----------------------------------------------------------------------------------------------


def assert_scim_error(response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response.document["schemas"] == [ERROR_SCHEMA]
    assert response.document["status"] == str(status)
    assert response.document.get("scimType") == scim_type


def test_a_body_that_is_not_json_is_a_scim_400(provider):
    assert_scim_error(provider.call("POST", "Users", raw=b'{"userName": '), 400, "invalidSyntax")


def test_an_attribute_outside_the_schemas_is_refused_not_ignored(provider):
    response = provider.call("POST", "Users", user_body("ann", favouriteColour="teal"))

    assert_scim_error(response, 400, "invalidSyntax")
    assert "favouriteColour" in response.document["detail"]
    assert not User.objects.filter(username="ann").exists()


def test_a_patch_of_an_unknown_path_is_refused_and_changes_nothing(provider):
    ann = provider.create_user("ann")

    response = provider.call(
        "PATCH",
        f"Users/{ann['id']}",
        patch({"op": "replace", "path": "title", "value": "Boss"}, {"op": "replace", "path": "shoeSize", "value": 9}),
    )

    assert_scim_error(response, 400, "invalidPath")
    assert User.objects.get(username="ann").job_title == "Trader"


def test_a_duplicate_username_is_a_409_in_any_case(provider):
    provider.create_user("ann")

    assert_scim_error(provider.call("POST", "Users", user_body("ANN")), 409, "uniqueness")


def test_a_duplicate_group_name_is_a_409(provider):
    provider.create_group("Parley IT")

    assert_scim_error(provider.call("POST", "Groups", {"displayName": "parley it"}), 409, "uniqueness")


@pytest.mark.parametrize(
    ("change", "scim_type"),
    [
        ({"emails": [{"value": "not an address", "primary": True}]}, "invalidValue"),
        ({"userName": "has spaces"}, "invalidValue"),
        ({"userName": ""}, "invalidValue"),
        ({"active": "maybe"}, "invalidValue"),
        ({"title": ["a", "list"]}, "invalidValue"),
        ({"displayName": "nul\u0000"}, "invalidValue"),
    ],
)
def test_bad_values_are_scim_400s_and_create_nothing(provider, change, scim_type):
    assert_scim_error(provider.call("POST", "Users", user_body("ann") | change), 400, scim_type)
    assert not User.objects.exists()


def test_a_member_who_is_no_scim_user_is_refused(provider):
    response = provider.call("POST", "Groups", {"displayName": "Parley IT", "members": [{"value": "nobody"}]})

    assert_scim_error(response, 400, "invalidValue")
    assert not ScimGroup.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "Users/no-such-id",
        "Groups/no-such-id",
        "Groups/6c1f7c7e-0000-4000-8000-000000000000",
        "Bulk",
        "Schemas/urn:nothing",
    ],
)
def test_what_does_not_exist_is_a_scim_404(provider, path):
    assert_scim_error(provider.call("GET", path), 404)


@pytest.mark.parametrize("query", ['filter=userName co "a"', 'filter=emails eq "a@b"', "startIndex=two"])
def test_unsupported_filters_and_bad_paging_are_scim_400s(provider, query):
    response = provider.call("GET", f"Users?{query}")

    assert_scim_error(response, 400, "invalidValue" if "startIndex" in query else "invalidFilter")


def test_a_method_an_endpoint_does_not_take_is_a_scim_405(provider):
    assert_scim_error(provider.call("DELETE", "Users"), 405)


# ---- authentication ----------------------------------------------------------------------------------------


def _no_header() -> Client:
    return Client()


def _person_api_token() -> Client:
    _, token = api_token_create(user=UserFactory(), name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _session_cookie() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def _revoked_scim_token() -> Client:
    record, token = scim_token_issue(name="old", actor=None)
    scim_token_revoke(token=record, actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _wrong_scim_token() -> Client:
    scim_token_issue(name="Entra ID", actor=None)
    return Client(HTTP_AUTHORIZATION="Bearer scim_not-the-token")


@pytest.mark.parametrize(
    "client_of", [_no_header, _person_api_token, _session_cookie, _revoked_scim_token, _wrong_scim_token]
)
@pytest.mark.parametrize(("method", "path"), [("GET", "Users"), ("POST", "Users"), ("GET", "ServiceProviderConfig")])
def test_only_a_live_scim_token_opens_the_door(client_of, method, path):
    body = json.dumps(user_body("intruder"))
    response = client_of().generic(method, f"/scim/v2/{path}", data=body, content_type="application/scim+json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(response.content)["schemas"] == [ERROR_SCHEMA]
    assert not User.objects.filter(username="intruder").exists()
    assert "sessionid" not in response.cookies


def test_scim_writes_carry_no_persons_name_in_the_audit_log_even_with_a_cookie_along(provider):
    from auditlog.models import LogEntry

    provider.http.force_login(UserFactory(username="bystander"))

    provider.create_user("ann")

    entries = LogEntry.objects.get_for_object(User.objects.get(username="ann"))
    assert entries.exists()
    assert not entries.filter(actor__isnull=False).exists()


# ---- cost and discovery ------------------------------------------------------------------------------------


def test_reading_a_user_costs_three_queries_whatever_their_groups(provider, django_assert_num_queries):
    ann = provider.create_user("ann")
    for name in ("Parley IT", "Sales", "Desk 4"):
        provider.create_group(name, ann["id"])
    provider.call("GET", "ServiceProviderConfig")  # the token's last use is noted at most once a minute

    # The token, the user with their manager, their SCIM groups.
    with django_assert_num_queries(3):
        response = provider.call("GET", f"Users/{ann['id']}")

    assert len(response.document["groups"]) == 3


def test_listing_users_costs_the_same_for_one_or_many(provider, django_assert_num_queries):
    for name in ("ann", "bob", "cy", "dee"):
        provider.create_user(name)
    provider.call("GET", "ServiceProviderConfig")

    # The token, the page, the count, the page's groups.
    with django_assert_num_queries(4):
        response = provider.call("GET", "Users")

    assert response.document["totalResults"] == 4


def test_the_discovery_documents_describe_what_is_served(provider):
    config = provider.call("GET", "ServiceProviderConfig").document
    types = provider.call("GET", "ResourceTypes").document
    user_schema = provider.call("GET", f"Schemas/{USER_SCHEMA}").document

    assert config["patch"]["supported"] and not config["bulk"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    assert "userName" in {attribute["name"] for attribute in user_schema["attributes"]}


def test_a_wrong_role_mapping_that_reached_the_server_is_a_scim_503_not_a_crash(provider, settings):
    settings.PARLEY_SCIM_ROLE_GROUPS = "Wizards=Parley IT"

    response = provider.call("POST", "Users", user_body("ann"))

    assert_scim_error(response, 503)
    assert "Wizards" in response.document["detail"]
    assert not User.objects.filter(username="ann").exists()
