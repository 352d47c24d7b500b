"""accounts/scim/protocol.py: what providers actually send, parsed without the database."""

import pytest

from accounts.scim.protocol import (
    ENTERPRISE_SCHEMA,
    USER_SCHEMA,
    GroupAttributes,
    ScimError,
    UserAttributes,
    body_parse,
    filter_parse,
    group_patch,
    paging_parse,
    user_from_body,
    user_patch,
)


def ops(*operations):
    return {"Operations": list(operations)}


def test_the_primary_email_wins_and_names_fall_back_to_given_and_family():
    attributes = user_from_body(
        {
            "userName": "ann",
            "name": {"givenName": "Ann", "familyName": "Lee", "middleName": "B"},
            "emails": [{"value": "home@example.com", "type": "home"}, {"value": "ann@example.com", "primary": True}],
        }
    )

    assert (attributes.email, attributes.name_to_keep()) == ("ann@example.com", "Ann Lee")


def test_enterprise_attributes_come_whole_or_by_full_path_and_a_manager_bare_or_as_an_object():
    whole = user_from_body({"userName": "ann", ENTERPRISE_SCHEMA: {"department": "Rates", "manager": {"value": "b1"}}})
    by_path = user_patch(
        UserAttributes(username="ann"),
        ops(
            {"op": "add", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Rates"},
            {"op": "add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": "b1"},
        ),
    )

    assert (whole.department, whole.manager_id) == (by_path.department, by_path.manager_id) == ("Rates", "b1")


def test_removing_the_manager_clears_it_and_active_cannot_be_removed():
    attributes = UserAttributes(username="ann", manager_id="b1", active=True)

    cleared = user_patch(attributes, ops({"op": "remove", "path": f"{ENTERPRISE_SCHEMA}:manager"}))

    assert cleared.manager_id == "" and attributes.manager_id == "b1"
    with pytest.raises(ScimError) as refused:
        user_patch(attributes, ops({"op": "remove", "path": "active"}))
    assert refused.value.scim_type == "mutability"


@pytest.mark.parametrize("body", [{}, {"Operations": []}, ops({"op": "move", "path": "title"}), ops("replace")])
def test_a_patch_that_is_not_a_list_of_operations_is_invalid_syntax(body):
    with pytest.raises(ScimError) as refused:
        user_patch(UserAttributes(username="ann"), body)

    assert refused.value.scim_type == "invalidSyntax"


def test_group_members_are_added_once_removed_by_list_or_by_filter_and_replaced():
    start = GroupAttributes(display_name="IT", member_ids=["a"])

    added = group_patch(start, ops({"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}))
    removed_by_list = group_patch(added, ops({"op": "remove", "path": "members", "value": [{"value": "a"}]}))
    removed_by_filter = group_patch(added, ops({"op": "remove", "path": 'members[value eq "b"]'}))
    replaced = group_patch(added, ops({"op": "replace", "value": {"id": "x", "displayName": "Ops", "members": []}}))

    assert added.member_ids == ["a", "b"]
    assert (removed_by_list.member_ids, removed_by_filter.member_ids) == (["b"], ["a"])
    assert (replaced.display_name, replaced.member_ids) == ("Ops", [])


def test_a_filter_names_its_attribute_in_any_case_and_unescapes_its_value():
    assert filter_parse('USERNAME eq "o\\"brien"', attributes=("userName",)) == [("userName", 'o"brien')]
    assert filter_parse(f'{USER_SCHEMA}:userName eq "a"', attributes=("userName",)) == [("userName", "a")]
    assert filter_parse("", attributes=("userName",)) == []


def test_a_filter_joins_clauses_with_and_but_not_inside_a_value_and_checks_a_membership():
    found = filter_parse(
        'id eq "g1" and members[value eq "u1"] AND displayName eq "Sales and Trading"',
        attributes=("displayName", "id", "members"),
    )

    assert found == [("id", "g1"), ("members", "u1"), ("displayName", "Sales and Trading")]


@pytest.mark.parametrize(
    "text",
    [
        'userName co "a"',
        'userName eq "a" or id eq "b"',
        'userName eq "a" and',
        "userName eq a",
        'members[value eq "x"]',
    ],
)
def test_other_filters_are_refused(text):
    with pytest.raises(ScimError) as refused:
        filter_parse(text, attributes=("userName", "id"))

    assert refused.value.scim_type == "invalidFilter"


def test_paging_is_clamped_to_its_bounds():
    assert paging_parse({"startIndex": "0", "count": "5000"}) == (1, 200)
    assert paging_parse({"startIndex": str(10**30), "count": "-4"}) == (1_000_000_000, 0)
    assert paging_parse({}) == (1, 100)


def test_a_body_nested_a_thousand_deep_is_invalid_syntax_not_a_crash():
    with pytest.raises(ScimError) as refused:
        body_parse(b'{"userName": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")

    assert refused.value.scim_type == "invalidSyntax"


def test_a_group_name_longer_than_its_column_is_refused_before_the_database():
    with pytest.raises(ScimError) as refused:
        group_patch(
            GroupAttributes(display_name="IT"), ops({"op": "replace", "path": "displayName", "value": "x" * 151})
        )

    assert refused.value.scim_type == "invalidValue"
