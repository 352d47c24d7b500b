"""accounts/services/privileges.py and the privileged actions IT takes: audit-logged, superuser-only where they
must be."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts import errors, roles, services
from accounts.models import AuthenticatorDevice
from accounts.tests.factories import PRIVILEGED_KINDS, UserFactory, audit_entries, privileged

pytestmark = pytest.mark.django_db


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
