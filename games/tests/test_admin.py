"""games/admin.py: only IT (and superusers) switch games off, company-wide or per group, and the change is in
the audit log; the switch takes effect at once."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts import roles
from core.testing import signed_in_client, staff_in
from games import services
from games.errors import GamesDisabled
from games.models import GamePolicy
from games.tests.factories import room_with

pytestmark = pytest.mark.django_db

ADD = "admin:games_gamepolicy_add"
LIST = "admin:games_gamepolicy_changelist"


def test_an_it_admin_switches_games_off_company_wide_and_the_audit_log_says_who(alice, bob):
    it_admin = staff_in(roles.IT_ADMINS, "ivan")

    response = signed_in_client(it_admin).post(reverse(ADD), {"group": "", "games_enabled": ""})

    assert response.status_code == 302
    policy = GamePolicy.objects.get(group__isnull=True)
    assert not policy.games_enabled
    assert LogEntry.objects.get_for_object(policy).get().actor == it_admin
    audit_page = signed_in_client(it_admin).get(reverse("admin:auditlog_logentry_changelist"), {"q": ""})
    assert "Games off for the whole company" in audit_page.content.decode()  # IT reads the history of its setting
    room = room_with(alice, bob)
    with pytest.raises(GamesDisabled):
        services.game_challenge(challenger=alice, conversation_id=room.pk, opponent_id=bob.pk, kind="chess")


def test_an_it_admin_switches_games_off_for_one_group(alice, bob):
    group = Group.objects.create(name="Trading floor")
    alice.groups.add(group)
    client = signed_in_client(staff_in(roles.IT_ADMINS, "ivan"))

    client.post(reverse(ADD), {"group": group.pk, "games_enabled": ""})

    assert GamePolicy.objects.get(group=group).games_enabled is False
    assert client.get(reverse(LIST)).status_code == 200


def test_a_second_company_wide_policy_is_refused_with_a_form_error_not_a_500():
    client = signed_in_client(staff_in(roles.IT_ADMINS, "ivan"))
    GamePolicy.objects.create(games_enabled=True)

    response = client.post(reverse(ADD), {"group": "", "games_enabled": ""})

    assert response.status_code == 200  # the form again, with the error
    assert GamePolicy.objects.count() == 1


@pytest.mark.parametrize("role", [roles.COMPLIANCE_OFFICERS, roles.EMPLOYEES])
def test_compliance_officers_and_employees_cannot_reach_the_games_switch(role):
    client = signed_in_client(staff_in(role, "someone"))

    assert client.get(reverse(LIST)).status_code == 403
    assert client.post(reverse(ADD), {"group": "", "games_enabled": ""}).status_code == 403
    assert not GamePolicy.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in():
    response = Client().get(reverse(LIST))

    assert response.status_code == 302 and "login" in response["Location"]
