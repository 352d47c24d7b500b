"""Sign-in records and sessions: ending them, and closing the sockets they opened."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.errors import LogoutTokenInvalid, SessionInvalid
from accounts.models import DirectorySource, LogoutTokenSeen, SignIn, User
from core import fanout
from core.audit import audit_record
from core.net import client_ip

logger = logging.getLogger(__name__)

MAX_USER_AGENT_LENGTH = 300


def signed_out_everywhere(*, user_id: int, reason: str) -> int:
    """End every session of a user and close their sockets on every worker. Returns the sessions ended.

    Sessions are found through their sign-in records, so this is a few queries however many sessions exist.
    """
    from django.contrib.sessions.models import Session

    open_sign_ins = SignIn.objects.filter(user_id=user_id, ended_at__isnull=True)
    session_keys = list(open_sign_ins.values_list("session_key", flat=True))
    ended, _ = Session.objects.filter(session_key__in=session_keys).delete()
    open_sign_ins.update(ended_at=timezone.now(), end_reason=reason)
    fanout.after_commit(partial(fanout.close_user_sockets, user_id, reason=reason))  # at once outside a transaction
    return ended


def sign_in_record(*, user: User, request: HttpRequest) -> SignIn:
    """Note a sign-in (called as Django signs someone in): time, address, browser, and the session it opened."""
    return SignIn.objects.create(
        user=user,
        session_key=request.session.session_key or "",
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT_LENGTH],
        # Set by accounts.oidc for a company sign-in.
        provider_subject=getattr(request, "oidc_subject", ""),
        provider_session_id=getattr(request, "oidc_session_id", ""),
    )


def sign_in_ended(*, session_key: str, reason: str) -> None:
    """A session ended by signing out: close the record and the sockets that session opened."""
    if not session_key:
        return
    SignIn.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    fanout.after_commit(partial(fanout.close_session_sockets, session_key, reason=reason))


def session_end(*, user: User, sign_in_id: int, reason: str = "ended_by_user") -> SignIn:
    """Sign one of the user's own sessions out (from their sessions page): its cookie stops working and its
    sockets close on every worker."""
    from django.contrib.sessions.models import Session

    sign_in = SignIn.objects.filter(pk=sign_in_id, user=user, ended_at__isnull=True).first()
    if sign_in is None:
        raise SessionInvalid("That session is not one of your active sessions.")
    Session.objects.filter(session_key=sign_in.session_key).delete()
    sign_in_ended(session_key=sign_in.session_key, reason=reason)
    sign_in.refresh_from_db()
    return sign_in


def sessions_end_others(*, user: User, keep_session_key: str, reason: str = "ended_by_user") -> int:
    """Sign out every session of the user but the one they are using. Returns how many ended."""
    from django.contrib.sessions.models import Session

    other_sign_ins = SignIn.objects.filter(user=user, ended_at__isnull=True).exclude(session_key=keep_session_key)
    others = list(other_sign_ins.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=others).delete()
    other_sign_ins.update(ended_at=timezone.now(), end_reason=reason)
    for session_key in others:
        fanout.after_commit(partial(fanout.close_session_sockets, session_key, reason=reason))
    return len(others)


def password_change_from_session(*, user: User, session_key: str | None) -> None:
    """Before saving `user` with a new password: the session changing it, kept when the new password ends the
    user's other sessions (accounts.signals). Without it every session ends: a reset link, IT, a command."""
    user._password_changed_from_session = session_key


def sessions_end_for_new_password(*, user: User, keep_session_key: str | None = None) -> int:
    """The user's password hash changed: end their sessions and close their sockets, all but those of
    `keep_session_key` (the session that changed it, if any). Returns how many ended."""
    if not keep_session_key:
        return signed_out_everywhere(user_id=user.pk, reason="password_changed")
    return sessions_end_others(user=user, keep_session_key=keep_session_key, reason="password_changed")


def session_key_changed(*, old_key: str, new_key: str) -> None:
    """Django gave the session a new key (a password change does): keep its sign-in record and its open
    sockets pointing at it."""
    if old_key and new_key and old_key != new_key:
        SignIn.objects.filter(session_key=old_key, ended_at__isnull=True).update(session_key=new_key)
        fanout.after_commit(partial(fanout.session_rekeyed, old_key, new_key))


def sign_in_unlock(*, username: str, actor: User | None = None) -> int:
    """Lift a lockout after too many failed passwords (IT, in admin), audit-logged with `actor` against the
    account. Returns the failure records cleared."""
    from axes.utils import reset

    cleared = reset(username=username)
    user = User.objects.filter(username=username).first()
    if user is not None:
        audit_record(actor=actor, target=user, action="sign_in_unlocked", details={"records_cleared": cleared})
    return cleared


def oidc_backchannel_logout(*, jti: str, subject: str, session_id: str, remember_for: timedelta) -> int:
    """The identity provider says, by a checked Logout Token (accounts.oidc.oidc_logout_token_verify), that a person
    or one of its sessions signed out there. Returns how many Parley sessions ended.

    - A `sid` some company sign-in recorded (with that `sub`, when the token names one too): the sessions of those
      sign-ins end, as the spec asks, and nothing else: the person's other devices stay signed in.
    - Else a `sub`: every session of the account linked to it, or signed in with it, ends (signed_out_everywhere).
    - Else nothing to do (someone who never signed into Parley, a session already forgotten).

    Sockets get `signed_out` with reason `signed_out_by_provider` and close; the audit log records it against the
    account. `jti` is remembered for `remember_for`, the longest a token may still be accepted: the same token sent
    again is refused with LogoutTokenInvalid; the unique constraint decides between two copies sent at once.
    """
    with transaction.atomic():
        LogoutTokenSeen.objects.filter(received_at__lt=timezone.now() - remember_for).delete()
        try:
            with transaction.atomic():  # a savepoint: the outer transaction goes on to refuse it cleanly
                LogoutTokenSeen.objects.create(jti=jti)
        except IntegrityError:
            raise LogoutTokenInvalid("This logout token was received already (its jti is a replay).") from None
        if session_id:
            named = SignIn.objects.filter(provider_session_id=session_id)
            if subject:
                named = named.filter(provider_subject=subject)
            named = list(named.select_related("user"))
            if named:
                return _provider_sessions_end(sign_ins=named, jti=jti)
        if subject:
            return _provider_person_sign_out(subject=subject, jti=jti)
    logger.info("OIDC back-channel logout for no Parley session (sid %r): nothing to do", session_id)
    return 0


PROVIDER_SIGN_OUT = "signed_out_by_provider"


def _provider_sessions_end(*, sign_ins: list[SignIn], jti: str) -> int:
    from django.contrib.sessions.models import Session

    open_keys = [sign_in.session_key for sign_in in sign_ins if sign_in.ended_at is None]
    ended, _ = Session.objects.filter(session_key__in=open_keys).delete()
    for session_key in open_keys:
        sign_in_ended(session_key=session_key, reason=PROVIDER_SIGN_OUT)
    details = {"provider_session": sign_ins[0].provider_session_id, "sessions_ended": ended, "jti": jti}
    for user in {sign_in.user for sign_in in sign_ins}:
        audit_record(actor=None, target=user, action=PROVIDER_SIGN_OUT, details=details)
    return ended


def _provider_person_sign_out(*, subject: str, jti: str) -> int:
    linked = Q(directory_source=DirectorySource.OIDC, directory_id=subject) | Q(sign_ins__provider_subject=subject)
    users = list(User.objects.filter(linked).distinct())
    if not users:
        logger.info("OIDC back-channel logout for no Parley account (sub %r): nothing to do", subject)
    ended = 0
    for user in users:
        user_ended = signed_out_everywhere(user_id=user.pk, reason=PROVIDER_SIGN_OUT)
        audit_record(
            actor=None, target=user, action=PROVIDER_SIGN_OUT, details={"sessions_ended": user_ended, "jti": jti}
        )
        ended += user_ended
    return ended
