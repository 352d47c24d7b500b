"""accounts/scim/checks.py: a wrong role mapping stops the server at start-up."""

from accounts.scim.checks import scim_role_groups_check


def test_a_mapping_to_no_parley_role_is_a_start_up_error(settings):
    settings.PARLEY_SCIM_ROLE_GROUPS = "Wizards=Parley IT"

    errors = scim_role_groups_check()

    assert [error.id for error in errors] == ["parley.E101"]
    assert "Wizards" in errors[0].msg


def test_a_mapping_of_roles_passes(settings):
    settings.PARLEY_SCIM_ROLE_GROUPS = "IT Admins=Parley IT; Compliance Officers=Parley Compliance"

    assert scim_role_groups_check() == []
