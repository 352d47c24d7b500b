"""accounts/services/deactivation.py: switching accounts off, and IT signing someone out everywhere."""

import pytest
from channels.db import database_sync_to_async

from accounts import services
from accounts.models import SignIn
from accounts.tests.factories import UserFactory
from core.testing import closes_with, open_socket_for, session_cookie_for

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
async def test_it_signing_someone_out_everywhere_ends_every_session_and_socket():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    sockets = [await open_socket_for(await database_sync_to_async(session_cookie_for)(dana)) for _ in range(2)]

    ended = await database_sync_to_async(services.signed_out_everywhere)(user_id=dana.pk, reason="signed_out_by_it")

    assert ended == 2
    for socket in sockets:
        assert await closes_with(socket, "signed_out_by_it")
    assert not await database_sync_to_async(SignIn.objects.filter(user=dana, ended_at__isnull=True).exists)()
