"""The roles IT assigns, as Django groups. Their permissions are set by the user-management work."""

from django.contrib.auth.models import Group

EMPLOYEES = "Employees"
IT_ADMINS = "IT Admins"
COMPLIANCE_OFFICERS = "Compliance Officers"

ALL_ROLES = (EMPLOYEES, IT_ADMINS, COMPLIANCE_OFFICERS)


def role_group(name: str) -> Group:
    """The group for a role. A migration creates them; this also recreates one an operator deleted."""
    if name not in ALL_ROLES:
        raise ValueError(f"{name!r} is not a Parley role")
    group, _ = Group.objects.get_or_create(name=name)
    return group
