"""Make the test provider's database: its tables, the people of PEOPLE, and Parley's client. Run once, in the
provider's environment, before the server starts: `python -m accounts.tests.oidc_provider.setup`."""

import django
from django.core.management import call_command


def main() -> None:
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    from accounts.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, PASSWORD, PEOPLE, REDIRECT_URI

    for username, (email, name, groups) in PEOPLE.items():
        first, last = name.split(" ", 1)
        user = User.objects.create_user(username, email=email, password=PASSWORD, first_name=first, last_name=last)
        user.groups.set([Group.objects.get_or_create(name=group)[0] for group in groups])
    Application.objects.create(
        name="Parley",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,  # the consent page is part of the flow the browser test walks
    )


if __name__ == "__main__":
    main()
