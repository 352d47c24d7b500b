from django.core.management.base import BaseCommand, CommandError

from archive.retention import RetentionBelowFloor, apply_retention


class Command(BaseCommand):
    help = "Purge archive entries past their retention (sparing legal holds) and apply rooms' live-chat retention."

    def handle(self, *args, **options):
        try:
            report = apply_retention()
        except RetentionBelowFloor as refusal:
            raise CommandError(str(refusal)) from refusal
        for purge in report.purges:
            self.stdout.write(
                f"conversation {purge['conversation_id']}: purged positions {purge['from_position']}.."
                f"{purge['to_position']} ({purge['count']} entries, {purge['retention_days']} days)"
            )
        self.stdout.write(
            f"purged {report.purged_entries} entries in {report.purged_chains} conversations; "
            f"{report.spared_by_hold} conversations kept by a legal hold; "
            f"{report.chat_messages_removed} messages left the chat under live retention"
        )
