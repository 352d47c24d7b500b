"""Two-factor sign-in: enrolling an authenticator, verifying a session, backup codes, resets."""

from __future__ import annotations

import base64
import secrets

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import devices_for_user, verify_token
from django_otp import login as otp_login
from django_otp.models import Device

from accounts.errors import SecondFactorOwed, TwoFactorInvalid
from accounts.models import AuthenticatorDevice, BackupCodeDevice, SignIn, User
from accounts.selectors import two_factor_enrolled, two_factor_required
from accounts.services.privileges import account_reset_check
from core.audit import audit_record

BACKUP_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"


def two_factor_enrol_start(*, user: User, verified: bool, pending_device_id: int | None = None) -> AuthenticatorDevice:
    """An authenticator secret for the user to scan; it counts only once a code from it is confirmed.

    Someone who already has a second factor starts a replacement only from a session that entered it: the
    password alone must never lead to a new device. The pending one is reused, so reloading the set-up page
    does not change a secret already scanned.
    """
    if not verified and two_factor_enrolled(user=user):
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    pending = AuthenticatorDevice.objects.filter(user=user, confirmed=False)
    device = pending.filter(pk=pending_device_id).first() if pending_device_id else None
    if device is None:
        pending.delete()
        device = AuthenticatorDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def two_factor_enrol_confirm(*, request: HttpRequest, device_id: int, token: str, current_token: str = "") -> list[str]:
    """Confirm the scanned authenticator with a code from it, replace any older one, verify this session, and
    return fresh backup codes (shown once).

    A first enrolment needs only the new code. A replacement needs a verified session and, in `current_token`,
    a code from the current authenticator or a backup code: a session left open, or stolen, cannot move the
    account to a phone of its own. Every code is checked by django-otp's verify_token, in a transaction of its
    own, so a wrong guess counts against the device's throttle even though the enrolment is refused.
    """
    user = request.user
    replacing = two_factor_enrolled(user=user)
    if replacing and not user.is_verified():
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    device = AuthenticatorDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        raise TwoFactorInvalid("That set-up has expired. Scan the new code and try again.")
    if not verify_token(user, device.persistent_id, _normalized_token(token)):
        raise TwoFactorInvalid("That code is not right. Check the time on your phone and enter a fresh one.")
    if replacing and not _current_second_factor_proven(user, current_token):
        raise TwoFactorInvalid(
            "Enter a code from your current authenticator, or a backup code, to replace it.",
            code="current_code_required",
        )
    with transaction.atomic():
        # One enrolment at a time per person (the user row's lock): one that was not a replacement when checked
        # above must not have become one meanwhile, or the password alone would replace a device after all.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if not replacing and two_factor_enrolled(user=user):
            raise SecondFactorOwed("Two-factor sign-in was set up meanwhile: enter a code from it first.")
        device = AuthenticatorDevice.objects.filter(pk=device.pk, confirmed=False).first()
        if device is None:
            raise TwoFactorInvalid("That set-up has expired. Scan the new code and try again.")
        AuthenticatorDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _backup_codes_issue(user)
    _second_factor_passed(request, device)
    return codes


def two_factor_verify(*, request: HttpRequest, token: str) -> Device:
    """Accept a code from the user's authenticator (or one of their backup codes) for this session.

    Each device throttles wrong codes itself (django-otp doubles the wait after each failure).
    """
    token = _normalized_token(token)
    for device in devices_for_user(request.user):
        if verify_token(request.user, device.persistent_id, token):
            _second_factor_passed(request, device)
            return device
    raise TwoFactorInvalid("That code is not right, or too many wrong codes were tried: wait a little and retry.")


def backup_codes_renew(*, user: User, verified: bool) -> list[str]:
    """Ten new single-use codes for signing in without the phone; the old ones stop working. Only from a
    session that entered its second factor."""
    if not verified:
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    return _backup_codes_issue(user)


def two_factor_remove(*, user: User, verified: bool) -> None:
    """The user turns two-factor sign-in off, from a session that entered it; refused when their role or IT
    requires it."""
    if not verified:
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    if two_factor_required(user=user):
        raise TwoFactorInvalid("Your account must use two-factor sign-in; ask IT if you lost your phone.")
    two_factor_reset(user=user, actor=user)


def two_factor_reset(*, user: User, actor: User | None) -> None:
    """Forget the user's authenticator and backup codes (IT, for a lost phone): they enrol again at their next
    request if they must use two factors. Audit-logged with `actor` (None: an operator at the shell).

    Only a superuser resets a privileged account's second factor (account_reset_check): with it and the
    password, IT could sign in as a Compliance Officer.
    """
    account_reset_check(actor=actor, user=user, what="two-factor sign-in")
    with transaction.atomic():
        AuthenticatorDevice.objects.filter(user=user).delete()
        BackupCodeDevice.objects.filter(user=user).delete()
        audit_record(actor=actor, target=user, action="two_factor_reset")


def new_backup_code() -> str:
    """Eight base32 characters (40 random bits), lower case, as django-otp's StaticToken.random_token."""
    return base64.b32encode(secrets.token_bytes(5)).decode().lower()


def _backup_codes_issue(user: User) -> list[str]:
    codes = [new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    with transaction.atomic():
        # The user row's lock orders two renewals (one set per person, a constraint): the later one wins whole.
        User.objects.select_for_update().filter(pk=user.pk).first()
        BackupCodeDevice.objects.update_or_create(
            user=user, defaults={"name": BACKUP_CODES_NAME, "confirmed": True, "codes": " ".join(codes)}
        )
    return codes


def _current_second_factor_proven(user: User, token: str) -> bool:
    token = _normalized_token(token)
    return bool(token) and any(verify_token(user, device.persistent_id, token) for device in devices_for_user(user))


def _normalized_token(token: str) -> str:
    return "".join(token.split()).lower()


def _second_factor_passed(request: HttpRequest, device: Device) -> None:
    otp_login(request, device)
    SignIn.objects.filter(session_key=request.session.session_key, ended_at__isnull=True).update(
        second_factor_at=timezone.now()
    )
