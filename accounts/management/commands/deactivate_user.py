from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import user_deactivate, user_reactivate


class Command(BaseCommand):
    help = "Deactivate an account at once (sessions end, live sockets close); --reactivate turns it back on."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reactivate", action="store_true")

    def handle(self, *args, username: str, reactivate: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if reactivate:
            user_reactivate(user=user)
            self.stdout.write(f"{username} is active again")
        else:
            user_deactivate(user=user)
            self.stdout.write(f"{username} is deactivated: signed out everywhere")
