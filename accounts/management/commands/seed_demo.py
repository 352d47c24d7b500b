from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from messenger.demo import demo_company_seed
from messenger.demo_week import ROOMS


class Command(BaseCommand):
    help = (
        "Seed a demo company: a dozen employees, an admin, an IT admin and a compliance officer, five rooms "
        "(#general, which new accounts join), direct chats and a week of conversation."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any user exists (what `make run` uses)."
        )
        parser.add_argument("--password", help="Use this password for every demo user instead of a random one.")

    def handle(self, *args, if_empty: bool, password: str | None, **options):
        if settings.IS_PRODUCTION:
            raise CommandError("Refusing to seed demo users in production.")
        if User.objects.exists():
            if if_empty:
                return
            raise CommandError("Users exist already; the demo company is seeded only into an empty database.")
        company = demo_company_seed(password=password)
        for note in company.skipped:
            self.stdout.write(self.style.WARNING(f"Skipped: {note}"))
        rooms = ", ".join(f"#{name}" for name in ROOMS)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded the demo company: {rooms} and {company.messages} messages over the last week.")
        )
        self.stdout.write("Sign in as:")
        self.stdout.write("  " + ", ".join(company.logins.usernames))
        self.stdout.write(f"  password for all of them: {company.logins.password}")
        self.stdout.write("  (admin is a superuser; itadmin and compliance hold the IT Admins and Compliance roles;")
        self.stdout.write("  those three set up two-factor sign-in with an authenticator app at their first sign-in)")
        self.stdout.write("This is shown once. Forgot it? `make reset-demo` starts over with a fresh database.")
