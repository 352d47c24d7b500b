"""accounts/services/api_tokens.py: tokens for bots and scripts."""

from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import errors, roles, services
from accounts.models import ApiToken, User
from accounts.tests.factories import PRIVILEGED_KINDS, audit_entries, privileged

pytestmark = pytest.mark.django_db


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
