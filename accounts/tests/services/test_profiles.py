"""accounts/services/profiles.py: profiles and pictures."""

import pytest
from channels.db import database_sync_to_async

from accounts import errors, services
from accounts.tests.factories import UserFactory
from core.testing import next_of_type, open_socket_for, session_cookie_for

pytestmark = pytest.mark.django_db


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
