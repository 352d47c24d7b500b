"""accounts/services/scim_tokens.py: the identity provider's bearer tokens."""

from datetime import timedelta
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import services
from accounts.models import ScimToken
from accounts.tests.factories import UserFactory, audit_entries

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_its_hash_and_its_issue_is_audit_logged_with_who():
    ivy = UserFactory(username="ivy")

    record, secret = services.scim_token_issue(name="Entra ID", actor=ivy)

    assert secret.startswith("scim_") and len(secret) > 40
    assert record.token_hash == ScimToken.hash_of(secret) and secret not in record.token_hash
    assert record.created_by == ivy
    entry = audit_entries(record, "scim_token_issued").get()
    assert (entry.actor, entry.action, entry.changes["name"]) == (ivy, LogEntry.Action.CREATE, [None, "Entra ID"])
    assert "token_hash" not in str(entry.changes) and secret not in str(entry.changes)


def test_a_revoked_token_opens_nothing_and_a_second_revoke_is_a_no_op():
    record, secret = services.scim_token_issue(name="Okta", actor=None)

    assert services.scim_token_revoke(token=record, actor=None) is True
    assert services.scim_token_revoke(token=record, actor=None) is False
    assert services.scim_token_use(token=secret) is None
    assert audit_entries(record, "scim_token_revoked").count() == 1


def test_a_persons_api_token_is_no_scim_token_even_if_its_hash_were_stored():
    _, api_token = services.api_token_create(user=UserFactory(), name="bot")
    ScimToken.objects.create(name="forged", token_hash=ScimToken.hash_of(api_token))

    assert services.scim_token_use(token=api_token) is None


def test_using_a_token_notes_it_at_most_once_a_minute(django_assert_num_queries):
    record, secret = services.scim_token_issue(name="Entra ID", actor=None)

    with django_assert_num_queries(2):  # the lookup, and the first use noted
        assert services.scim_token_use(token=secret) == record
    with django_assert_num_queries(1):
        services.scim_token_use(token=secret)
    ScimToken.objects.filter(pk=record.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):
        services.scim_token_use(token=secret)


def test_an_operator_issues_a_token_from_the_shell_printed_once_and_working():
    out = StringIO()

    call_command("create_scim_token", "--name", "Okta", stdout=out)

    secret = out.getvalue().strip()
    assert services.scim_token_use(token=secret).name == "Okta"
    with pytest.raises(CommandError, match="1 to 100 characters"):
        call_command("create_scim_token", "--name", " ", stdout=StringIO())
