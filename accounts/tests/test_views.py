"""Signing in as a person does it, through the pages: lockout, two factors, sessions, password change."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp

from accounts import roles
from accounts.models import AuthenticatorDevice, BackupCodeDevice, GroupSignInPolicy, SignIn
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import force_login_with_second_factor, table_text

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(username: str, password: str = TEST_PASSWORD, client: Client | None = None, **headers) -> Client:
    client = client or Client()
    client.post(LOGIN, {"username": username, "password": password}, **headers)
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def code_for(device: AuthenticatorDevice, ahead: int = 0) -> str:
    """What the authenticator app shows now (`ahead` time steps later: a code not yet used)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift=ahead):0{device.digits}d}"


def enrol(client: Client) -> tuple[AuthenticatorDevice, list[str]]:
    """Scan the QR code and confirm it with a code, as a person does; returns the device and backup codes."""
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200
    device = AuthenticatorDevice.objects.get(pk=client.session["parley_pending_totp_device"])
    done = client.post(reverse("two_factor_setup"), {"token": code_for(device)}, follow=True)
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    device.refresh_from_db()
    return device, codes


def wait_out_the_throttle(device: AuthenticatorDevice) -> None:
    """After a wrong code the device refuses every code for 2^(failures-1) s; be that much later."""
    device.refresh_from_db()
    device.throttling_failure_timestamp -= timedelta(minutes=1)
    device.save(update_fields=["throttling_failure_timestamp"])


def member_of(group_name: str, **fields):
    user = UserFactory(is_staff=group_name != roles.EMPLOYEES, **fields)
    user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return user


# ---- lockout ------------------------------------------------------------------------------------------------


def test_too_many_wrong_passwords_lock_the_username_even_against_the_right_one():
    UserFactory(username="dana")
    for _ in range(5):
        assert sign_in("dana", "wrong").session.get("_auth_user_id") is None

    client = Client()
    response = client.post(LOGIN, {"username": "dana", "password": TEST_PASSWORD})

    assert response.status_code == 429
    assert "locked" in response.content.decode()
    assert not is_signed_in(client)


def test_a_lockout_is_per_username_so_colleagues_behind_the_same_address_still_sign_in():
    UserFactory(username="dana")
    UserFactory(username="erin")
    for _ in range(5):
        sign_in("dana", "wrong", REMOTE_ADDR="10.0.0.9")

    assert is_signed_in(sign_in("erin", REMOTE_ADDR="10.0.0.9"))


def test_four_wrong_passwords_then_the_right_one_signs_in_and_clears_the_count():
    UserFactory(username="dana")
    for _ in range(4):
        sign_in("dana", "wrong")

    assert is_signed_in(sign_in("dana"))
    assert not AccessAttempt.objects.filter(username="dana").exists()


def test_a_lockout_lifts_after_the_cool_off():
    UserFactory(username="dana")
    for _ in range(5):
        sign_in("dana", "wrong")
    AccessAttempt.objects.filter(username="dana").update(
        attempt_time=AccessAttempt.objects.get(username="dana").attempt_time - timedelta(minutes=16)
    )

    assert is_signed_in(sign_in("dana"))


def test_it_unlocks_a_locked_account_in_admin():
    dana = UserFactory(username="dana")
    for _ in range(5):
        sign_in("dana", "wrong")
    assert not is_signed_in(sign_in("dana"))
    it_admin = Client()
    roles.role_permissions_apply()
    force_login_with_second_factor(it_admin, member_of(roles.IT_ADMINS))

    it_admin.post(
        reverse("admin:accounts_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [dana.pk]}
    )

    assert is_signed_in(sign_in("dana"))


# ---- two factors ------------------------------------------------------------------------------------------


def test_anyone_may_enrol_and_then_every_sign_in_asks_for_the_code():
    UserFactory(username="dana")
    client = sign_in("dana")
    setup_page = client.get(reverse("two_factor_setup")).content.decode()
    assert "<svg" in setup_page  # the QR code
    device, backup_codes = enrol(client)
    assert device.confirmed
    assert len(backup_codes) == 10

    later = sign_in("dana")
    assert later.get("/").url.startswith(reverse("two_factor_verify"))
    wrong = later.post(reverse("two_factor_verify"), {"token": "000000"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    wait_out_the_throttle(device)
    right = later.post(reverse("two_factor_verify"), {"token": code_for(device, ahead=1), "next": "/"})

    assert right.status_code == 302
    assert later.get("/").status_code == 200
    assert SignIn.objects.filter(user__username="dana", second_factor_at__isnull=False).count() == 2


def test_wrong_codes_slow_down_further_guesses_even_the_right_one():
    UserFactory(username="dana")
    device, _ = enrol(sign_in("dana"))
    client = sign_in("dana")

    client.post(reverse("two_factor_verify"), {"token": "000000"})
    too_soon = client.post(reverse("two_factor_verify"), {"token": code_for(device, ahead=1)})

    assert too_soon.status_code == 400
    assert client.get("/").status_code == 302


def test_a_backup_code_signs_in_once():
    UserFactory(username="dana")
    _, backup_codes = enrol(sign_in("dana"))

    first = sign_in("dana")
    first.post(reverse("two_factor_verify"), {"token": backup_codes[0]})
    second = sign_in("dana")
    second.post(reverse("two_factor_verify"), {"token": backup_codes[0]})

    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302


def test_reloading_the_set_up_page_keeps_the_secret_already_scanned():
    UserFactory(username="dana")
    client = sign_in("dana")
    client.get(reverse("two_factor_setup"))
    first = client.session["parley_pending_totp_device"]
    client.get(reverse("two_factor_setup"))

    assert client.session["parley_pending_totp_device"] == first
    assert AuthenticatorDevice.objects.filter(user__username="dana").count() == 1


@pytest.mark.parametrize("role", [roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS])
def test_the_privileged_roles_must_enrol_before_any_page_or_api_call(role):
    roles.role_permissions_apply()
    member_of(role, username="priv")
    client = sign_in("priv")

    for path in ("/", "/admin/", reverse("account_security")):
        response = client.get(path)
        assert response.status_code == 302
        assert response.url.startswith(reverse("two_factor_setup"))
    api = client.get("/api/v1/me")
    assert api.status_code == 403
    assert api.json()["code"] == "two_factor_required"

    enrol(client)
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_the_privileged_roles_cannot_turn_two_factors_off():
    member_of(roles.IT_ADMINS, username="priv")
    client = sign_in("priv")
    enrol(client)

    client.post(reverse("two_factor_remove"))

    assert AuthenticatorDevice.objects.filter(user__username="priv", confirmed=True).exists()


def test_an_employee_is_not_asked_to_enrol_but_may_turn_it_off_again():
    UserFactory(username="dana")
    client = sign_in("dana")
    assert client.get("/").status_code == 200
    enrol(client)

    client.post(reverse("two_factor_remove"))

    assert not AuthenticatorDevice.objects.filter(user__username="dana").exists()
    assert sign_in("dana").get("/").status_code == 200


def test_a_group_policy_requires_two_factors_of_its_members():
    traders = Group.objects.create(name="Traders")
    GroupSignInPolicy.objects.create(group=traders, two_factor_required=True)
    member_of("Traders", username="tess")

    assert sign_in("tess").get("/").url.startswith(reverse("two_factor_setup"))


def test_it_can_require_two_factors_of_one_person():
    UserFactory(username="dana", two_factor_required=True)

    assert sign_in("dana").get("/").url.startswith(reverse("two_factor_setup"))


def test_it_resets_a_lost_phone_and_the_person_enrols_again():
    # An employee who must use two factors: a privileged account's reset is a superuser's (test_roles.py).
    dana = UserFactory(username="dana", two_factor_required=True)
    enrol(sign_in("dana"))
    it_admin = Client()
    roles.role_permissions_apply()
    force_login_with_second_factor(it_admin, member_of(roles.IT_ADMINS))

    it_admin.post(
        reverse("admin:accounts_user_changelist"), {"action": "reset_two_factor", "_selected_action": [dana.pk]}
    )

    assert not AuthenticatorDevice.objects.filter(user=dana).exists()
    assert sign_in("dana").get("/").url.startswith(reverse("two_factor_setup"))


def test_a_redirect_after_the_code_never_leaves_the_site():
    UserFactory(username="dana")
    device, _ = enrol(sign_in("dana"))
    client = sign_in("dana")

    response = client.post(
        reverse("two_factor_verify"), {"token": code_for(device, ahead=1), "next": "https://evil.example/"}
    )

    assert response.url == "/"


# ---- the second factor cannot be replaced with the password alone ----------------------------------------


@pytest.fixture
def officer_with_phone():
    """A Compliance Officer who set up an authenticator at their first sign-in: (device, backup codes)."""
    roles.role_permissions_apply()
    member_of(roles.COMPLIANCE_OFFICERS, username="carol")
    return enrol(sign_in("carol"))


ARCHIVE_ADMIN = "/admin/archive/archiveentry/"


def test_the_password_alone_cannot_open_the_set_up_page_or_replace_the_authenticator(officer_with_phone):
    device, backup_codes = officer_with_phone
    attacker = sign_in("carol")  # knows the password, not the phone

    page = attacker.get(reverse("two_factor_setup"))
    enrolment = attacker.post(reverse("two_factor_setup"), {"token": "123456"})

    for response in (page, enrolment):
        assert response.status_code == 302
        assert response.url.startswith(reverse("two_factor_verify"))
    assert list(AuthenticatorDevice.objects.filter(user__username="carol")) == [device]  # no new device, even pending
    assert attacker.get(ARCHIVE_ADMIN).url.startswith(reverse("two_factor_verify"))
    assert attacker.get("/api/v1/me").status_code == 403
    owner = sign_in("carol")
    owner.post(reverse("two_factor_verify"), {"token": code_for(device, ahead=1)})
    assert owner.get(ARCHIVE_ADMIN).status_code == 200
    assert sign_in("carol").post(reverse("two_factor_verify"), {"token": backup_codes[0]}).status_code == 302


def test_the_set_up_page_refuses_the_password_alone_even_without_the_middleware(officer_with_phone, settings):
    """Defence in depth: the view and its service check the same rule as the middleware."""
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != "accounts.middleware.SecondFactorMiddleware"]
    device, _ = officer_with_phone
    attacker = sign_in("carol")

    page = attacker.get(reverse("two_factor_setup"))
    enrolment = attacker.post(reverse("two_factor_setup"), {"token": "123456"})
    attacker.post(reverse("two_factor_remove"))
    attacker.post(reverse("backup_codes_renew"))

    for response in (page, enrolment):
        assert response.status_code == 302
        assert response.url.startswith(reverse("two_factor_verify"))
    assert list(AuthenticatorDevice.objects.filter(user__username="carol")) == [device]
    assert BackupCodeDevice.objects.filter(user__username="carol").count() == 1
    assert "parley_fresh_backup_codes" not in attacker.session


def test_remove_and_new_backup_codes_need_the_second_factor_from_an_employee_too():
    UserFactory(username="dana")
    _, backup_codes = enrol(sign_in("dana"))
    attacker = sign_in("dana")

    removed = attacker.post(reverse("two_factor_remove"))
    renewed = attacker.post(reverse("backup_codes_renew"))

    assert removed.url.startswith(reverse("two_factor_verify"))
    assert renewed.url.startswith(reverse("two_factor_verify"))
    assert AuthenticatorDevice.objects.filter(user__username="dana", confirmed=True).exists()
    assert sign_in("dana").post(reverse("two_factor_verify"), {"token": backup_codes[0]}).status_code == 302


def test_first_sign_in_enrolment_of_a_required_role_verifies_that_session():
    roles.role_permissions_apply()
    member_of(roles.COMPLIANCE_OFFICERS, username="carol")
    client = sign_in("carol")
    assert client.get(ARCHIVE_ADMIN).url.startswith(reverse("two_factor_setup"))
    assert client.get(reverse("two_factor_verify")).url.startswith(reverse("two_factor_setup"))

    device, codes = enrol(client)

    assert device.confirmed and len(codes) == 10
    assert client.get(ARCHIVE_ADMIN).status_code == 200


def replace_authenticator(client: Client, ahead: int = 0, **fields) -> tuple[AuthenticatorDevice, object]:
    """Open the set-up page from a verified session and post the new device's code (plus `fields`)."""
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200
    new = AuthenticatorDevice.objects.get(pk=client.session["parley_pending_totp_device"])
    return new, client.post(reverse("two_factor_setup"), {"token": code_for(new, ahead), **fields})


def test_a_verified_session_replaces_the_authenticator_only_with_a_current_code(officer_with_phone):
    old, _ = officer_with_phone
    client = sign_in("carol")
    client.post(reverse("two_factor_verify"), {"token": code_for(old, ahead=1)})
    assert 'name="current_token"' in client.get(reverse("two_factor_setup")).content.decode()

    new, without = replace_authenticator(client)
    _, wrong = replace_authenticator(client, ahead=1, current_token="000000")

    for refused in (without, wrong):
        assert refused.status_code == 400
        assert "Enter a code from your current authenticator, or a backup code, to replace it." in refused.text
    assert list(AuthenticatorDevice.objects.filter(user__username="carol", confirmed=True)) == [old]

    wait_out_the_throttle(old)
    accepted = client.post(
        reverse("two_factor_setup"), {"token": code_for(new, ahead=2), "current_token": code_for(old, ahead=2)}
    )

    assert accepted.status_code == 302
    assert list(AuthenticatorDevice.objects.filter(user__username="carol", confirmed=True)) == [new]
    assert client.get(ARCHIVE_ADMIN).status_code == 200  # this session is verified by the new device
    later = sign_in("carol")
    later.post(reverse("two_factor_verify"), {"token": code_for(old, ahead=3)})
    assert later.get(ARCHIVE_ADMIN).status_code == 302  # the old phone no longer signs in


def test_a_backup_code_also_allows_replacing_the_authenticator(officer_with_phone):
    _, backup_codes = officer_with_phone
    client = sign_in("carol")
    client.post(reverse("two_factor_verify"), {"token": backup_codes[0]})

    new, accepted = replace_authenticator(client, current_token=backup_codes[1])

    assert accepted.status_code == 302
    assert list(AuthenticatorDevice.objects.filter(user__username="carol", confirmed=True)) == [new]
    fresh_codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", client.get(reverse("account_security")).text)
    assert len(fresh_codes) == 10 and backup_codes[2] not in fresh_codes
    assert sign_in("carol").post(reverse("two_factor_verify"), {"token": backup_codes[2]}).status_code == 400


# ---- secrets at rest --------------------------------------------------------------------------------------


def database_dump() -> str:
    """Every value of every table, as text (binary columns as Latin-1, sessions decoded), lower-cased."""
    values = [table_text(table) for table in connection.introspection.table_names()]
    values += [json.dumps(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(values).lower()


def test_a_database_dump_after_enrolling_holds_no_secret_and_no_backup_code():
    UserFactory(username="dana")
    client = sign_in("dana")
    client.get(reverse("two_factor_setup"))
    device = AuthenticatorDevice.objects.get(pk=client.session["parley_pending_totp_device"])
    client.post(reverse("two_factor_setup"), {"token": code_for(device)})  # codes wait in the session for the page
    secret_forms = {device.secret, base64.b32encode(device.bin_key).decode(), device.bin_key.decode("latin-1")}

    dump_before_the_codes_are_shown = database_dump()
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", client.get(reverse("account_security")).text)
    dump = database_dump()

    assert len(codes) == 10
    for text in (dump_before_the_codes_are_shown, dump):
        assert not [form for form in secret_forms if form.lower() in text]
        assert not [code for code in codes if code in text]
    client.post(reverse("logout"))
    assert sign_in("dana").post(reverse("two_factor_verify"), {"token": codes[0]}).status_code == 302
    wait_out_the_throttle(device)
    assert sign_in("dana").post(reverse("two_factor_verify"), {"token": code_for(device, ahead=1)}).status_code == 302


# ---- sign-in records --------------------------------------------------------------------------------------


def test_a_sign_in_is_recorded_with_the_socket_address_when_no_proxy_is_trusted():
    UserFactory(username="dana")
    sign_in("dana", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")

    record = SignIn.objects.get(user__username="dana")
    assert record.ip_address == "10.1.2.3"  # the header is anyone's to forge
    assert record.user_agent == "Firefox/140"
    assert Session.objects.filter(session_key=record.session_key).exists()


def test_a_sign_in_is_recorded_with_the_address_the_trusted_proxy_gives(settings):
    settings.PARLEY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    UserFactory(username="dana")
    sign_in("dana", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")

    # The proxy appended the address it saw; what the client claimed before it (198.51.100.1) is ignored.
    assert SignIn.objects.get(user__username="dana").ip_address == "203.0.113.7"


# ---- sessions ---------------------------------------------------------------------------------------------


LAPTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)


def test_the_sessions_page_names_each_browser_and_system_and_signs_one_out():
    UserFactory(username="dana")
    laptop = sign_in("dana", HTTP_USER_AGENT=LAPTOP)
    phone = sign_in("dana", HTTP_USER_AGENT=PHONE)
    page = laptop.get(reverse("account_security")).content.decode()
    assert ">Chrome 120 on Windows 10<" in page
    assert ">Mobile Safari 17 on iOS 17<" in page
    phone_record = SignIn.objects.get(user_agent=PHONE)

    laptop.post(reverse("session_sign_out", args=[phone_record.pk]))

    assert phone.get("/").status_code == 302  # back to the sign-in page
    assert laptop.get("/").status_code == 200
    phone_record.refresh_from_db()
    assert phone_record.end_reason == "ended_by_user"


def test_nobody_signs_out_someone_elses_session():
    UserFactory(username="dana")
    UserFactory(username="erin")
    erin = sign_in("erin")
    dana = sign_in("dana")

    dana.post(reverse("session_sign_out", args=[SignIn.objects.get(user__username="erin").pk]))

    assert erin.get("/").status_code == 200


def test_sign_out_everywhere_else_keeps_only_this_browser():
    UserFactory(username="dana")
    here, there, elsewhere = sign_in("dana"), sign_in("dana"), sign_in("dana")

    here.post(reverse("sessions_sign_out_others"))

    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    assert elsewhere.get("/").status_code == 302


def test_changing_the_password_signs_out_the_other_sessions_and_keeps_this_one():
    UserFactory(username="dana")
    here, there = sign_in("dana"), sign_in("dana")
    new_password = "a-much-longer-passphrase-42"

    here.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )

    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    current = SignIn.objects.get(user__username="dana", ended_at__isnull=True)
    assert current.session_key == here.session.session_key


def test_signing_out_closes_the_record():
    UserFactory(username="dana")
    client = sign_in("dana")

    client.post(reverse("logout"))

    assert SignIn.objects.get(user__username="dana").end_reason == "signed_out"


# ---- lockout by username from an address, and per address (issue 11) ---------------------------------------


def test_wrong_passwords_from_one_address_lock_the_username_there_but_not_from_another_address():
    UserFactory(username="alice")
    for _ in range(5):
        sign_in("alice", "wrong", REMOTE_ADDR="10.0.0.1")

    attacker = Client(REMOTE_ADDR="10.0.0.1")
    refused = attacker.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert refused.status_code == 429
    assert "locked" in refused.content.decode()
    assert not is_signed_in(attacker)

    assert is_signed_in(sign_in("alice", REMOTE_ADDR="10.0.0.2"))


def test_wrong_passwords_behind_the_trusted_proxy_count_for_the_forwarded_address(settings):
    settings.PARLEY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    UserFactory(username="alice")
    for _ in range(5):
        sign_in("alice", "wrong", REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert not is_signed_in(sign_in("alice", REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))
    assert is_signed_in(sign_in("alice", REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"))


def test_spraying_many_usernames_from_one_address_is_stopped_at_the_address_limit(settings):
    settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT = 30
    UserFactory(username="alice")
    answers = [
        Client(REMOTE_ADDR="10.0.0.66").post(LOGIN, {"username": f"user{n}", "password": "Summer2026!"}).status_code
        for n in range(30)
    ]
    assert 429 not in answers[:29]  # each username was tried once: no username limit was reached
    assert answers[29] == 429  # the 30th failure from the address locks it

    sprayer = Client(REMOTE_ADDR="10.0.0.66")
    refused = sprayer.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert refused.status_code == 429
    assert not is_signed_in(sprayer)
    assert is_signed_in(sign_in("alice", REMOTE_ADDR="10.0.0.67"))


def test_a_colleagues_typos_behind_the_office_address_stay_below_the_address_limit():
    UserFactory(username="erin")
    for colleague in ("dana", "frank", "gina"):
        for _ in range(4):
            sign_in(colleague, "wrong", REMOTE_ADDR="10.0.0.9")

    assert is_signed_in(sign_in("erin", REMOTE_ADDR="10.0.0.9"))


def test_it_unlocks_a_username_locked_from_one_address():
    alice = UserFactory(username="alice")
    for _ in range(5):
        sign_in("alice", "wrong", REMOTE_ADDR="10.0.0.1")
    assert not is_signed_in(sign_in("alice", REMOTE_ADDR="10.0.0.1"))
    it_admin = Client()
    roles.role_permissions_apply()
    force_login_with_second_factor(it_admin, member_of(roles.IT_ADMINS))

    it_admin.post(
        reverse("admin:accounts_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [alice.pk]}
    )

    assert is_signed_in(sign_in("alice", REMOTE_ADDR="10.0.0.1"))


def test_the_security_page_switches_the_email_digest_off_and_on(client):
    person = UserFactory(username="dora")
    client.force_login(person)

    page = client.get(reverse("account_security")).content.decode()
    off = client.post(reverse("email_digest_set"), {}, follow=True)
    person.refresh_from_db()
    was_off = person.email_digest is False
    client.post(reverse("email_digest_set"), {"email_digest": "on"})
    person.refresh_from_db()

    assert 'name="email_digest" checked' in page
    assert was_off and b"No more e-mails about missed messages." in off.content
    assert person.email_digest is True
