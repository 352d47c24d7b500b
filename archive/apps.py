from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Compliance archive"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from archive.models import LegalHold, RetentionPolicy

        # Who opened, changed or released a hold, and who changed a retention policy, is evidence too.
        auditlog.register(RetentionPolicy)
        auditlog.register(LegalHold, m2m_fields={"users", "rooms"})
