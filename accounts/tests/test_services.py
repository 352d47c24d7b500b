"""Writes about people: presence choices and the buddy list."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts import services
from accounts.models import Contact, ContactGroup, SignIn, User
from accounts.tests.factories import UserFactory
from core.testing import next_of_type, session_cookie_for, socket_to_app
from messenger import fanout

pytestmark = pytest.mark.django_db


class TestPresenceChoose:
    def test_stores_the_choice_and_status_message(self, alice):
        services.presence_choose(user=alice, choice="busy", status_message="Quarter close")

        stored = User.objects.get(pk=alice.pk)
        assert (stored.presence_choice, stored.status_message) == ("busy", "Quarter close")

    @pytest.mark.parametrize(("choice", "status"), [("asleep", None), ("auto", "x" * 141)])
    def test_refuses_unknown_choices_and_overlong_messages(self, alice, choice, status):
        with pytest.raises(services.PresenceInvalid):
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
            with pytest.raises(services.ContactInvalid):
                services.contact_add(owner=alice, username=username)
        assert not Contact.objects.exists()

    def test_removing_a_contact_leaves_the_group(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        services.contact_remove(owner=alice, username="bob")

        assert not Contact.objects.exists()
        assert ContactGroup.objects.filter(owner=alice, name="Team").exists()

    def test_a_group_with_people_in_it_is_not_deleted(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")

        with pytest.raises(services.ContactInvalid):
            services.contact_group_delete(owner=alice, name="Team")
        services.contact_remove(owner=alice, username="bob")
        services.contact_group_delete(owner=alice, name="Team")

        assert not ContactGroup.objects.filter(owner=alice).exists()

    def test_renaming_to_a_name_in_use_is_refused(self, alice, bob):
        services.contact_add(owner=alice, username="bob", group_name="Team")
        services.contact_add(owner=alice, username=UserFactory().username, group_name="Friends")

        with pytest.raises(services.ContactInvalid):
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

    with pytest.raises(services.SessionInvalid):
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


def test_a_picture_over_5_mb_is_refused_by_its_size_before_any_of_it_is_read():
    from django.core.files.base import ContentFile

    user = UserFactory(username="pia")
    upload = ContentFile(b"x" * (services.MAX_AVATAR_UPLOAD_BYTES + 1), name="huge.jpg")

    with pytest.raises(services.PictureTooLarge) as refusal:
        services.avatar_set(user=user, upload=upload)

    assert (refusal.value.code, refusal.value.http_status) == ("file_too_large", 413)
    assert upload.tell() == 0  # not a byte was read
    user.refresh_from_db()
    assert not user.avatar
