from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Compliance archive"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from archive.db_roles import database_role_check, grant_app_role_after_migrate
        from archive.models import LegalHold, Lexicon, Matter, RetentionPolicy, SamplingRule
        from core.audit import audit_register

        # Who opened, changed or released a hold, and who changed a retention policy, is evidence too.
        auditlog.register(RetentionPolicy)
        auditlog.register(LegalHold, m2m_fields={"users", "rooms"})
        # What supervision looks for, and how much it samples, is part of the supervisory system (FINRA 3110).
        auditlog.register(Lexicon, m2m_fields={"groups", "people"})
        auditlog.register(SamplingRule)
        # A matter's name, description, holds and closing; its sealed criteria are left out (core.audit).
        audit_register(Matter, m2m_fields={"holds"})
        # Sent for this app after the whole migration plan ran, so every table exists by then.
        post_migrate.connect(grant_app_role_after_migrate, sender=self)
        checks.register(database_role_check, deploy=True)
