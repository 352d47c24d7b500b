from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Not sender=self: the apps after accounts (messenger, archive) get their permissions from their own
        # post_migrate, so the roles are set once the last app's permissions exist, on the very first migrate.
        post_migrate.connect(_apply_role_permissions, dispatch_uid="parley_role_permissions")
        checks.register(ldap_configuration_check)

        from accounts import signals  # noqa: F401 (connects the deactivation receiver)
        from accounts.scim.checks import scim_role_groups_check

        checks.register(scim_role_groups_check)
        from accounts.oidc import oidc_role_values_check

        checks.register(oidc_role_values_check)
        from accounts.models import AuthenticatorDevice, BackupCodeDevice, GroupSignInPolicy, User
        from core.audit import audit_register

        # Who created, changed, deactivated or re-grouped an account (compliance; docs/compliance.md).
        audit_register(User, exclude_fields=["password", "last_login", "last_seen_at"], m2m_fields={"groups"})
        audit_register(GroupSignInPolicy)
        # Enrolling, confirming and removing an authenticator; never its secret, the backup codes (audit_register
        # leaves sealed fields out whatever include_fields says) or the per-sign-in counters.
        audit_register(AuthenticatorDevice, include_fields=["user", "name", "confirmed"])
        audit_register(BackupCodeDevice, include_fields=["user", "name", "confirmed"])


def _apply_role_permissions(sender, **kwargs) -> None:
    from django.apps import apps

    from accounts.roles import role_permissions_apply

    # post_migrate is sent once per app with models, in INSTALLED_APPS order (auth's create_permissions too).
    last_app = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label == last_app.label:
        role_permissions_apply()


def ldap_configuration_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check` and `migrate`: PARLEY_LDAP_* make sense, so a deployment finds out before the first
    sign-in does (sign-in only logs it and refuses directory passwords)."""
    from django.conf import settings

    if not settings.PARLEY_LDAP_SERVER_URI:
        return []
    # Only with a directory configured: python-ldap is optional (requirements-ldap.txt), settings checked it is here.
    from accounts.directory import DirectoryConfigError
    from accounts.ldap import ldap_config

    try:
        ldap_config()
    except DirectoryConfigError as error:
        return [checks.Error(error.message, hint="docs/directory.md", id="parley.E020")]
    return []
