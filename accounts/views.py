"""Sign-in security pages: two-factor set-up and codes, the user's sessions and sign-in history, password.

Thin, like every transport: read the form, call a service, render what it returns. Refusals from the services
(ParleyError) are shown on the same page, never as a server error.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordChangeView
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import errors, selectors, services
from core import crypto
from core.errors import ParleyError
from messenger import own_data

PENDING_DEVICE_SESSION_KEY = "parley_pending_totp_device"
FRESH_BACKUP_CODES_SESSION_KEY = "parley_fresh_backup_codes"


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The user's own security page: two-factor status, active sessions, recent sign-ins, password."""
    user = request.user
    context = {
        "two_factor_enrolled": user.is_verified(),
        "two_factor_required": selectors.two_factor_required(user=user),
        "sessions": selectors.sessions_active(user=user),
        "history": selectors.sign_in_history(user=user),
        "current_session_key": request.session.session_key,
        "backup_codes": _fresh_backup_codes(request),
    }
    return render(request, "accounts/security.html", context)


@login_required
def own_data_download(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own data as a ZIP (messenger.own_data); only ever theirs. Audit-logged."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it) Files make it large: on disk.
    counts = own_data.own_data_write(user=request.user, out=spool)
    own_data.own_data_download_record(user=request.user, counts=counts)
    spool.seek(0)
    name = f"parley-{request.user.get_username()}-{timezone.now():%Y%m%d}.zip"
    return FileResponse(spool, as_attachment=True, filename=name, content_type="application/zip")


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Scan a QR code into an authenticator app, then confirm with a code from it. Replacing an authenticator
    also asks for a code from the current one (or a backup code)."""
    try:
        device = services.two_factor_enrol_start(
            user=request.user,
            verified=request.user.is_verified(),
            pending_device_id=request.session.get(PENDING_DEVICE_SESSION_KEY),
        )
    except errors.SecondFactorOwed:
        return _to_verification(request)
    request.session[PENDING_DEVICE_SESSION_KEY] = device.pk
    error = None
    if request.method == "POST":
        try:
            codes = services.two_factor_enrol_confirm(
                request=request,
                device_id=device.pk,
                token=request.POST.get("token", ""),
                current_token=request.POST.get("current_token", ""),
            )
        except errors.SecondFactorOwed:
            return _to_verification(request)
        except ParleyError as refusal:
            error = refusal.message
        else:
            request.session.pop(PENDING_DEVICE_SESSION_KEY, None)
            _keep_fresh_backup_codes(request, codes)
            messages.success(request, "Two-factor sign-in is on. Keep your backup codes somewhere safe.")
            return redirect("account_security")
    context = {
        "qr_svg": _qr_svg(device.config_url),
        "secret": _grouped(base64.b32encode(device.bin_key).decode()),
        "error": error,
        "required": selectors.two_factor_required(user=request.user),
        "replacing": selectors.two_factor_enrolled(user=request.user),
        "next": _safe_next(request),
    }
    return render(request, "accounts/two_factor_setup.html", context, status=400 if error else 200)


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app or a backup code."""
    if request.user.is_verified():
        return redirect(_safe_next(request))
    error = None
    if request.method == "POST":
        try:
            services.two_factor_verify(request=request, token=request.POST.get("token", ""))
        except ParleyError as refusal:
            error = refusal.message
        else:
            return redirect(_safe_next(request))
    context = {"error": error, "next": _safe_next(request)}
    return render(request, "accounts/two_factor_verify.html", context, status=400 if error else 200)


@login_required
@require_POST
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    return _back_to_security(
        request,
        lambda: services.two_factor_remove(user=request.user, verified=request.user.is_verified()),
        done="Two-factor sign-in is off.",
    )


@login_required
@require_POST
def backup_codes_renew(request: HttpRequest) -> HttpResponse:
    return _back_to_security(
        request,
        lambda: _keep_fresh_backup_codes(
            request, services.backup_codes_renew(user=request.user, verified=request.user.is_verified())
        ),
        done="New backup codes; the old ones no longer work.",
    )


@login_required
@require_POST
def session_sign_out(request: HttpRequest, sign_in_id: int) -> HttpResponse:
    return _back_to_security(
        request,
        lambda: services.session_end(user=request.user, sign_in_id=sign_in_id),
        done="That session is signed out.",
    )


@login_required
@require_POST
def sessions_sign_out_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_end_others(user=request.user, keep_session_key=request.session.session_key)
    messages.success(request, f"Signed out {ended} other session{'' if ended == 1 else 's'}.")
    return redirect("account_security")


class PasswordChange(PasswordChangeView):
    """Django's password change, which also signs out the user's other sessions (a changed password usually
    means the old one may be known) and keeps this session's sign-in record."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account_security")

    def form_valid(self, form):
        old_key = self.request.session.session_key
        # Saving the new password ends the other sessions (accounts.signals), all but this one.
        services.password_change_from_session(user=form.user, session_key=old_key)
        response = super().form_valid(form)  # gives this session a new key
        new_key = self.request.session.session_key
        services.session_key_changed(old_key=old_key, new_key=new_key)
        messages.success(self.request, "Password changed. Your other sessions were signed out.")
        return response


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """What django-axes answers a locked-out sign-in with (429), in the app's look."""
    minutes = round(settings.AXES_COOLOFF_TIME * 60) if settings.AXES_COOLOFF_TIME else None
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def _back_to_security(request: HttpRequest, action: Callable[[], object], *, done: str) -> HttpResponse:
    """Run one change asked for on the security page and go back there, showing `done` or why it was
    refused: the one place these views turn a refusal into a message."""
    try:
        action()
    except ParleyError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, done)
    return redirect("account_security")


def _to_verification(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': request.get_full_path()})}")


def _keep_fresh_backup_codes(request: HttpRequest, codes: list[str]) -> None:
    """Hand new backup codes to the next page, sealed: the session table is in the database, and a dump of it
    must not give them away in the moment before the page shows them."""
    sealed = crypto.seal_text(" ".join(codes), context=_fresh_codes_context(request))
    request.session[FRESH_BACKUP_CODES_SESSION_KEY] = base64.b64encode(sealed).decode()


def _fresh_backup_codes(request: HttpRequest) -> list[str] | None:
    """The backup codes made on the previous page, once; None if there are none (or they do not open)."""
    sealed = request.session.pop(FRESH_BACKUP_CODES_SESSION_KEY, None)
    if not isinstance(sealed, str):
        return None
    try:
        return crypto.unseal_text(base64.b64decode(sealed), context=_fresh_codes_context(request)).split()
    except (ValueError, crypto.DecryptionError):
        return None


def _fresh_codes_context(request: HttpRequest) -> str:
    return f"accounts.fresh_backup_codes:{request.user.pk}"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("app")


def _qr_svg(data: str) -> str:
    # Inline SVG (no script, no style): the QR holds the otpauth:// URL, the markup only paths.
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 (made here, from a URL we encode)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
@require_POST
def email_digest_set(request: HttpRequest) -> HttpResponse:
    """The security page's switch for the e-mail digest of missed messages."""
    enabled = request.POST.get("email_digest") == "on"
    services.email_digest_set(user=request.user, enabled=enabled)
    messages.success(
        request, "E-mails about missed messages are on." if enabled else "No more e-mails about missed messages."
    )
    return redirect("account_security")


# No CSRF token: the signed token in the URL is the authority (no session needed, any browser), and mail apps
# POST here without one for one-click unsubscribing (List-Unsubscribe-Post, RFC 8058).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every digest. GET asks, POST unsubscribes: mail scanners open links, and must not."""
    if request.method == "GET":
        return render(request, "accounts/digest_unsubscribe.html")
    try:
        services.email_digest_unsubscribe(token=token)
    except ParleyError as refusal:
        return render(request, "accounts/digest_unsubscribe.html", {"error": refusal.message}, status=400)
    return render(request, "accounts/digest_unsubscribe.html", {"unsubscribed": True})
