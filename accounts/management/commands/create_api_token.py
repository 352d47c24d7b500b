from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import api_token_create
from core.errors import ParleyError


class Command(BaseCommand):
    help = (
        "Create an API token for a user (bots, scripts) and print it once: it is not stored in clear. "
        "Privileged accounts (superusers, staff, IT Admins, Compliance Officers) get none: a token skips the "
        "second factor."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="script", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        try:
            _, token = api_token_create(user=user, name=name, actor=None)  # an operator at the shell
        except ParleyError as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(token)
