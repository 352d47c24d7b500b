from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_apply_role_permissions, sender=self)

        from accounts import signals  # noqa: F401 (connects the deactivation receiver)
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
    from accounts.roles import role_permissions_apply

    role_permissions_apply()
