from django.apps import AppConfig


class MessengerConfig(AppConfig):
    name = "messenger"
    verbose_name = "Messenger"

    def ready(self) -> None:
        from core.audit import audit_register
        from messenger import signals  # noqa: F401 (new accounts join the default rooms)
        from messenger.models import Attachment, Conversation, Membership

        # Room settings and membership changes; what was said is in the archive, never in the audit log.
        audit_register(Conversation, exclude_fields=["last_seq"])
        audit_register(Membership, exclude_fields=["last_read_seq"])
        # Who opened a shared file from the archive review (an "access" entry; the file's metadata only, never
        # its name: that is sealed, and audit_register would leave it out anyway).
        audit_register(Attachment, include_fields=["size", "sha256"])
