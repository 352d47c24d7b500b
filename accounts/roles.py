"""The roles IT assigns, as Django groups. Their permissions are set by the user-management work."""

from django.contrib.auth.models import Group

EMPLOYEES = "Employees"
IT_ADMINS = "IT Admins"
COMPLIANCE_OFFICERS = "Compliance Officers"

ALL_ROLES = (EMPLOYEES, IT_ADMINS, COMPLIANCE_OFFICERS)
# Roles that reach every account or what was said: only a superuser grants them (accounts.selectors.is_privileged).
PRIVILEGED_ROLES = (IT_ADMINS, COMPLIANCE_OFFICERS)


def role_group(name: str) -> Group:
    """The group for a role. A migration creates them; this also recreates one an operator deleted."""
    if name not in ALL_ROLES:
        raise ValueError(f"{name!r} is not a Parley role")
    group, _ = Group.objects.get_or_create(name=name)
    return group


# Separation of duties (docs/administration.md): IT manages accounts and rooms but never sees what was said;
# compliance reviews what was said, holds and retention, but manages no accounts. "app.codename" each.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    EMPLOYEES: (),
    IT_ADMINS: (
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "auth.view_group",
        "accounts.view_groupsigninpolicy",
        "accounts.add_groupsigninpolicy",
        "accounts.change_groupsigninpolicy",
        "accounts.view_signin",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
        "accounts.view_apitoken",
        "accounts.change_apitoken",
        # SCIM tokens of the identity provider (accounts/scim): issued and revoked by IT; SCIM groups are read-only.
        "accounts.view_scimtoken",
        "accounts.add_scimtoken",
        "accounts.change_scimtoken",
        "accounts.view_scimgroup",
        "messenger.view_conversation",
        "messenger.change_conversation",
        "messenger.view_membership",
        "messenger.add_membership",
        "messenger.change_membership",
        # Games on or off, company-wide or per group (games.models.GamePolicy).
        "games.view_gamepolicy",
        "games.add_gamepolicy",
        "games.change_gamepolicy",
        "auditlog.view_logentry",
    ),
    COMPLIANCE_OFFICERS: (
        "accounts.view_user",
        "accounts.view_signin",
        "archive.view_archiveentry",
        "archive.view_archivecheckpoint",
        "archive.view_retentionpolicy",
        "archive.add_retentionpolicy",
        "archive.change_retentionpolicy",
        "archive.view_legalhold",
        "archive.add_legalhold",
        "archive.change_legalhold",
        "archive.view_lexicon",
        "archive.add_lexicon",
        "archive.change_lexicon",
        "archive.view_samplingrule",
        "archive.add_samplingrule",
        "archive.change_samplingrule",
        "archive.delete_samplingrule",
        "archive.view_supervisionitem",
        "archive.view_supervisiondecision",
        "archive.add_supervisiondecision",
        "archive.view_matter",
        "archive.add_matter",
        "archive.change_matter",
        "archive.view_mattertag",
        "archive.add_mattertag",
        "archive.change_mattertag",
        "auditlog.view_logentry",
    ),
}


def role_permissions_apply() -> None:
    """Give each role exactly its permissions (run after every migrate; tests call it after a flush)."""
    from django.contrib.auth.models import Permission

    for role, names in ROLE_PERMISSIONS.items():
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        role_group(role).permissions.set(wanted)
