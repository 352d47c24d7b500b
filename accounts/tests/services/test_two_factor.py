"""accounts/services/two_factor.py: enrolling, replacing, backup codes."""

import pytest

from accounts import errors, services
from accounts.models import AuthenticatorDevice, BackupCodeDevice

pytestmark = pytest.mark.django_db


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
