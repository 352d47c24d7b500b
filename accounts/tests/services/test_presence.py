"""accounts/services/presence.py: what people choose to show."""

import pytest

from accounts import errors, services
from accounts.models import User

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
