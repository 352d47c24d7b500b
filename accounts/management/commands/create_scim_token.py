from django.core.management.base import BaseCommand, CommandError

from accounts.models import ScimToken
from accounts.services import scim_token_issue


class Command(BaseCommand):
    help = (
        "Issue a SCIM token for the identity provider and print it once: it is not stored in clear. The same as "
        "People > SCIM tokens > Add in the admin, for deployments scripted from the shell (docs/directory.md, SCIM)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Where it is used, e.g. 'Entra ID production'.")

    def handle(self, *args, name: str, **options):
        max_length = ScimToken._meta.get_field("name").max_length
        if not name.strip() or len(name) > max_length:
            raise CommandError(f"The name is 1 to {max_length} characters.")
        _, token = scim_token_issue(name=name.strip(), actor=None)  # an operator at the shell
        self.stdout.write(token)
