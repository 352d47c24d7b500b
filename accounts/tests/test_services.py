"""Writes about people: presence choices, the buddy list, sessions, the second factor, API tokens and
privileged accounts."""

from io import StringIO

import pytest
from auditlog.models import LogEntry
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import errors, roles, services
from accounts.models import ApiToken, AuthenticatorDevice, BackupCodeDevice, Contact, ContactGroup, SignIn, User
from accounts.tests.factories import UserFactory
from core import fanout
from core.testing import next_of_type, session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db


class TestPresenceChoose:
    def test_stores_the_choice_and_status_message(self, alice):
        services.presence_choose(user=alice, choice="busy", status_message="Quarter close")

        stored = User.objects.get(pk=alice.pk)
        assert (stored.presence_choice, stored.status_message) == ("busy", "Quarter close")

    @pytest.mark.parametrize(("choice", "status"), [("asleep", None), ("auto", "x" * 141)])
    def test_refuses_unknown_choices_and_overlong_messages(self, alice, choice, status):
        with pytest.raises(errors.PresenceInvalid):
            services.presence_choose(user=alice, choice=choice, status_message=status)

        assert User.objects.get(pk=alice.pk).presence_choice == "auto"


class TestBuddyList:
    def test_adding_a_contact_puts_them_in_the_named_group_created_on_first_use(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        contact = Contact.objects.get(owner=alice)
        assert (contact.person, contact.group.name) == (bob, "Team")

    def test_adding_again_moves_the_contact_instead_of_duplicating(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username="bob", group_name="Favourites")

        assert list(Contact.objects.filter(owner=alice).values_list("group__name", flat=True)) == ["Favourites"]

    def test_yourself_and_unknown_or_inactive_people_cannot_be_added(self, alice):
        UserFactory(username="gone", is_active=False)

        for username in ("alice", "nobody", "gone"):
            with pytest.raises(errors.ContactInvalid):
                services.contact_add(owner=alice, username=username)
        assert not Contact.objects.exists()

    def test_removing_a_contact_leaves_the_group(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        services.contact_remove(owner=alice, username="bob")

        assert not Contact.objects.exists()
        assert ContactGroup.objects.filter(owner=alice, name="Team").exists()

    def test_a_group_with_people_in_it_is_not_deleted(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        with pytest.raises(errors.ContactInvalid):
            services.contact_group_delete(owner=alice, name="Team")
        services.contact_remove(owner=alice, username="bob")
        services.contact_group_delete(owner=alice, name="Team")

        assert not ContactGroup.objects.filter(owner=alice).exists()

    def test_renaming_to_a_name_in_use_is_refused(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username=UserFactory().username, group_name="Friends")

        with pytest.raises(errors.ContactInvalid):
            services.contact_group_rename(owner=alice, old_name="Team", new_name="Friends")
        services.contact_group_rename(owner=alice, old_name="Team", new_name="Desk")

        assert set(ContactGroup.objects.filter(owner=alice).values_list("name", flat=True)) == {"Desk", "Friends"}


# ---- sessions --------------------------------------------------------------------------------------------


async def open_socket_for(cookie: str):
    socket = socket_to_app(cookie=cookie)
    assert (await socket.connect())[0]
    return socket


async def closes_with(socket, reason: str) -> bool:
    while (frame := await socket.receive_json_from(timeout=3))["type"] != "signed_out":
        pass
    return frame["reason"] == reason and (await socket.receive_output(timeout=3))["type"] == "websocket.close"


@pytest.mark.django_db(transaction=True)
async def test_signing_one_session_out_closes_its_sockets_and_no_others():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    laptop_cookie = await database_sync_to_async(session_cookie_for)(dana)
    phone_cookie = await database_sync_to_async(session_cookie_for)(dana)
    laptop, phone = await open_socket_for(laptop_cookie), await open_socket_for(phone_cookie)
    phone_key = phone_cookie.split("=", 1)[1]
    phone_sign_in = await database_sync_to_async(SignIn.objects.get)(session_key=phone_key)

    await database_sync_to_async(services.session_end)(user=dana, sign_in_id=phone_sign_in.pk)

    assert await closes_with(phone, "ended_by_user")
    await laptop.send_json_to({"type": "ping", "ref": "still-here"})
    while (frame := await laptop.receive_json_from(timeout=3))["type"] != "pong":
        pass
    assert frame["ref"] == "still-here"
    await laptop.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_signing_someone_out_everywhere_ends_every_session_and_socket():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    sockets = [await open_socket_for(await database_sync_to_async(session_cookie_for)(dana)) for _ in range(2)]

    ended = await database_sync_to_async(services.signed_out_everywhere)(user_id=dana.pk, reason="signed_out_by_it")

    assert ended == 2
    for socket in sockets:
        assert await closes_with(socket, "signed_out_by_it")
    assert not await database_sync_to_async(SignIn.objects.filter(user=dana, ended_at__isnull=True).exists)()


def test_ending_a_session_that_is_not_yours_is_refused(alice, bob):
    client = Client()
    client.force_login(bob)

    with pytest.raises(errors.SessionInvalid):
        services.session_end(user=alice, sign_in_id=SignIn.objects.get(user=bob).pk)


@pytest.mark.django_db(transaction=True)
async def test_a_session_given_a_new_key_keeps_its_sockets_reachable_under_the_new_key():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    cookie = await database_sync_to_async(session_cookie_for)(dana)
    socket = await open_socket_for(cookie)
    old_key = cookie.split("=", 1)[1]

    await database_sync_to_async(services.session_key_changed)(old_key=old_key, new_key="rekeyed-session")

    # The socket follows the new key once it has handled the move; ask until it has.
    for _ in range(50):
        await database_sync_to_async(fanout.close_session_sockets)("rekeyed-session", reason="ended_by_user")
        if await socket.receive_nothing(timeout=0.2):  # (a receive that times out would end the app)
            continue
        if (await socket.receive_json_from())["type"] == "signed_out":
            break
    else:
        pytest.fail("the socket never heard of its session's new key")
    assert (await socket.receive_output(timeout=3))["type"] == "websocket.close"
    assert await database_sync_to_async(SignIn.objects.filter(session_key="rekeyed-session").exists)()


# ---- live announcements: a profile to everyone who sees the person, a buddy list to the owner's other tabs --


@pytest.mark.django_db(transaction=True)
async def test_a_profile_change_reaches_contacts_and_the_persons_own_other_tabs():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    await database_sync_to_async(services.contact_add)(owner=alice, username="bob")
    alices_tab = await open_socket_for(await database_sync_to_async(session_cookie_for)(alice))
    bobs_tab = await open_socket_for(await database_sync_to_async(session_cookie_for)(bob))

    await database_sync_to_async(services.profile_update)(user=bob, job_title="Head of Desk")

    for socket in (alices_tab, bobs_tab):
        profile = (await next_of_type(socket, "user.updated"))["user"]
        assert (profile["id"], profile["job_title"]) == (bob.pk, "Head of Desk")
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_buddy_list_change_reaches_the_owners_other_tabs():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    await database_sync_to_async(UserFactory)(username="bob")
    other_tab = await open_socket_for(await database_sync_to_async(session_cookie_for)(alice))

    await database_sync_to_async(services.contact_add)(owner=alice, username="bob", group_name="Team")
    added = await next_of_type(other_tab, "contacts")
    await database_sync_to_async(services.contact_group_rename)(owner=alice, old_name="Team", new_name="Desk")
    renamed = await next_of_type(other_tab, "contacts")
    await database_sync_to_async(services.contact_remove)(owner=alice, username="bob")
    removed = await next_of_type(other_tab, "contacts")

    def listing(frame):
        return [(group["name"], [person["username"] for person in group["contacts"]]) for group in frame["groups"]]

    assert listing(added) == [("Team", ["bob"])]
    assert listing(renamed) == [("Desk", ["bob"])]
    assert listing(removed) == [("Desk", [])]
    await other_tab.disconnect()


# ---- API tokens and privileged accounts ---------------------------------------------------------------------


def privileged(kind: str) -> User:
    """An account of one privileged kind: superuser, staff, or a member of a privileged role."""
    if kind == "superuser":
        return UserFactory(is_superuser=True)
    if kind == "staff":
        return UserFactory(is_staff=True)
    person = UserFactory()
    person.groups.add(roles.role_group(kind))
    return person


PRIVILEGED_KINDS = ["superuser", "staff", roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS]


def audit_entries(target, action: str):
    return LogEntry.objects.get_for_object(target).filter(additional_data__privileged_action=action)


class TestApiTokens:
    @pytest.mark.parametrize("kind", PRIVILEGED_KINDS)
    def test_a_privileged_account_gets_no_token(self, kind):
        person = privileged(kind)

        with pytest.raises(errors.ApiTokenRefused, match="privileged account"):
            services.api_token_create(user=person, name="bot", actor=None)

        assert not ApiToken.objects.filter(user=person).exists()

    def test_the_command_refuses_a_privileged_account_with_the_reason(self):
        officer = privileged(roles.COMPLIANCE_OFFICERS)

        with pytest.raises(CommandError, match="API tokens skip the second factor"):
            call_command("create_api_token", officer.username, stdout=StringIO())

        assert not ApiToken.objects.filter(user=officer).exists()

    def test_creating_a_token_is_audit_logged_with_its_actor(self, alice, bob):
        token, _ = services.api_token_create(user=alice, name="bot", actor=bob)

        entry = audit_entries(token, "api_token_created").get()
        assert (entry.actor, entry.action, entry.changes["user"]) == (bob, LogEntry.Action.CREATE, [None, "alice"])
        assert "token_hash" not in str(entry.changes)

    @pytest.mark.parametrize("kind", [roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS, "staff"])
    def test_a_token_made_before_a_promotion_stops_working(self, alice, kind):
        _, token = services.api_token_create(user=alice, name="bot")
        assert services.api_token_use(token=token) == alice

        if kind == "staff":
            User.objects.filter(pk=alice.pk).update(is_staff=True)
        else:
            alice.groups.add(roles.role_group(kind))

        assert services.api_token_use(token=token) is None
        bot = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert bot.get("/api/v1/conversations").status_code == 401

    def test_a_token_is_checked_in_one_query(self, alice, django_assert_num_queries):
        _, token = services.api_token_create(user=alice, name="bot")
        services.api_token_use(token=token)  # the first use also notes last_used_at

        with django_assert_num_queries(1):
            assert services.api_token_use(token=token) == alice

    def test_revoking_is_audit_logged_once_and_cannot_be_repeated(self, alice, bob):
        token, secret = services.api_token_create(user=alice, name="bot")

        first = services.api_token_revoke(token=token, actor=bob)
        again = services.api_token_revoke(token=token, actor=bob)

        assert (first, again) == (True, False)
        assert services.api_token_use(token=secret) is None
        assert audit_entries(token, "api_token_revoked").get().actor == bob

    def test_deactivation_revokes_every_token_for_good(self, alice):
        token, secret = services.api_token_create(user=alice, name="bot")

        services.user_deactivate(user=alice)
        services.user_reactivate(user=alice)

        token.refresh_from_db()
        assert token.revoked_at is not None
        assert services.api_token_use(token=secret) is None
        assert audit_entries(token, "api_token_revoked").get().additional_data["reason"] == "deactivated"


class TestPrivilegedActions:
    def test_unlocking_sign_in_is_audit_logged_with_its_actor(self, alice, bob):
        services.sign_in_unlock(username="alice", actor=bob)

        assert audit_entries(alice, "sign_in_unlocked").get().actor == bob

    def test_signing_someone_out_everywhere_is_audit_logged_with_its_actor(self, alice, bob):
        Client().force_login(alice)

        ended = services.user_sign_out_everywhere(user=alice, actor=bob)

        assert ended == 1
        assert audit_entries(alice, "signed_out_everywhere").get().actor == bob

    def test_resetting_two_factor_is_audit_logged_and_an_operator_at_the_shell_is_named_by_none(self, alice):
        AuthenticatorDevice.objects.create(user=alice, name="phone", confirmed=True)

        services.two_factor_reset(user=alice, actor=None)

        assert not AuthenticatorDevice.objects.filter(user=alice).exists()
        assert audit_entries(alice, "two_factor_reset").get().actor is None

    @pytest.mark.parametrize("kind", PRIVILEGED_KINDS)
    def test_only_a_superuser_resets_a_privileged_accounts_two_factor(self, kind):
        it_admin = privileged(roles.IT_ADMINS)
        target = privileged(kind)
        root = UserFactory(is_superuser=True)
        AuthenticatorDevice.objects.create(user=target, name="phone", confirmed=True)

        with pytest.raises(errors.SuperuserOnly):
            services.two_factor_reset(user=target, actor=it_admin)
        assert AuthenticatorDevice.objects.filter(user=target).exists()

        services.two_factor_reset(user=target, actor=root)
        assert not AuthenticatorDevice.objects.filter(user=target).exists()

    def test_someone_resets_their_own_two_factor(self):
        it_admin = privileged(roles.IT_ADMINS)

        services.two_factor_reset(user=it_admin, actor=it_admin)

        assert audit_entries(it_admin, "two_factor_reset").get().actor == it_admin

    @pytest.mark.parametrize(
        ("change", "refused"),
        [
            ({"groups": {roles.COMPLIANCE_OFFICERS}}, "the Compliance Officers group"),
            ({"groups": {roles.EMPLOYEES, roles.IT_ADMINS}}, "the IT Admins group"),
            ({"is_staff": True}, "staff status"),
            ({"is_superuser": True}, "superuser status"),
        ],
    )
    def test_a_non_superuser_cannot_grant_a_privilege(self, alice, change, refused):
        it_admin = privileged(roles.IT_ADMINS)

        with pytest.raises(errors.SuperuserOnly, match=refused):
            services.privileges_change_check(actor=it_admin, user=alice, **change)
        services.privileges_change_check(actor=UserFactory(is_superuser=True), user=alice, **change)

    def test_ordinary_groups_and_unchanged_privileges_pass(self):
        it_admin = privileged(roles.IT_ADMINS)
        officer = privileged(roles.COMPLIANCE_OFFICERS)
        Group.objects.create(name="Traders")

        services.privileges_change_check(
            actor=it_admin, user=officer, groups={roles.COMPLIANCE_OFFICERS, "Traders"}, is_staff=False
        )


# ---- two-factor sign-in -----------------------------------------------------------------------------------


def test_enrolling_anew_is_refused_to_a_session_that_has_not_entered_the_current_second_factor(alice):
    first = services.two_factor_enrol_start(user=alice, verified=False)
    AuthenticatorDevice.objects.filter(pk=first.pk).update(confirmed=True)

    with pytest.raises(errors.SecondFactorOwed):
        services.two_factor_enrol_start(user=alice, verified=False)
    assert services.two_factor_enrol_start(user=alice, verified=True).pk != first.pk  # a verified session may


def test_a_first_enrolment_needs_no_earlier_factor(alice):
    device = services.two_factor_enrol_start(user=alice, verified=False)

    assert not device.confirmed
    assert len(device.secret) == 40  # 20 bytes, hex


@pytest.mark.parametrize("change", ["backup_codes_renew", "two_factor_remove"])
def test_new_backup_codes_and_turning_it_off_need_a_verified_session(alice, change):
    device = AuthenticatorDevice.objects.create(user=alice, name="phone", confirmed=True)

    with pytest.raises(errors.SecondFactorOwed) as refusal:
        getattr(services, change)(user=alice, verified=False)

    assert refusal.value.code == "two_factor_required"
    assert AuthenticatorDevice.objects.filter(pk=device.pk).exists()
    assert not BackupCodeDevice.objects.filter(user=alice).exists()


def test_renewed_backup_codes_replace_the_old_ones(alice):
    old = services.backup_codes_renew(user=alice, verified=True)
    new = services.backup_codes_renew(user=alice, verified=True)
    device = BackupCodeDevice.objects.get(user=alice)

    assert len(set(new)) == 10 and not set(old) & set(new)
    assert not device.verify_token(old[0])
    device.throttle_reset()
    assert device.verify_token(new[0])


def test_a_picture_over_5_mb_is_refused_by_its_size_before_any_of_it_is_read():
    from django.core.files.base import ContentFile

    user = UserFactory(username="pia")
    upload = ContentFile(b"x" * (services.profiles.MAX_AVATAR_UPLOAD_BYTES + 1), name="huge.jpg")

    with pytest.raises(errors.PictureTooLarge) as refusal:
        services.avatar_set(user=user, upload=upload)

    assert (refusal.value.code, refusal.value.http_status) == ("file_too_large", 413)
    assert upload.tell() == 0  # not a byte was read
    user.refresh_from_db()
    assert not user.avatar
