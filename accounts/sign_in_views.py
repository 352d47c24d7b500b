"""The ways in: the login page (a password, or "Sign in with <company>"), and the OpenID Connect round trip.

Thin like every transport: the rules are in accounts.backends (passwords switched off), accounts.oidc (which
account a provider's person signs into) and accounts.lockout (throttling); these views run them and say what
happened on the login page, never with a server error.

Throttling of the company sign-in (docs/security.md): the provider checks the password and throttles guesses at
it, so Parley keeps its own limits where they still mean something. An address over the per-address limit
(password spraying) cannot finish a company sign-in either; a username locked out from this address by wrong
passwords is refused here too until the cool-off passes or IT unlocks it (IT's lock means "not from there",
whatever the way in); and every failed callback (a stale or replayed state, a code or token the provider or
Parley rejects, a refused account) counts as a failed sign-in from the address, so hammering the callback locks
the address out like spraying passwords would.
"""

from __future__ import annotations

import logging
import re

import jwt
import requests
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import auth
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from accounts import services
from accounts.backends import local_password_allowed, local_passwords_on
from accounts.lockout import is_address_locked
from accounts.oidc import LOGOUT_TOKEN_REPLAY_WINDOW, oidc_logout_token_verify
from accounts.selectors import admin_open_to
from accounts.views import locked_out
from core.errors import ParleyError

logger = logging.getLogger(__name__)

# What a failed company sign-in is recorded under in the lockout's attempts (django-axes, seen by IT in the admin):
# not a username anyone can have (Django's allow no spaces or parentheses).
FAILED_CALLBACK_USERNAME = "(company sign-in)"


def passwords_off_message() -> str:
    return (
        f"Passwords are switched off in Parley: use “Sign in with {settings.PARLEY_OIDC_PROVIDER_NAME}” "
        "with your company account."
    )


class _LocalPasswordsForm:
    """Says why a password was refused when passwords are off, instead of "didn't match" (the backend refused
    it without looking at the password)."""

    refused_passwords_off = False

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username") or ""
            if not local_password_allowed(username):
                self.refused_passwords_off = True
                raise ValidationError(passwords_off_message(), code="local_passwords_off") from None
            raise


class SignInForm(_LocalPasswordsForm, AuthenticationForm):
    pass


class AdminSignInForm(_LocalPasswordsForm, AdminAuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        """As Django's admin form, with a role that works in the admin counting like staff (admin_open_to)."""
        AuthenticationForm.confirm_login_allowed(self, user)
        if not admin_open_to(user=user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def sign_in_options() -> dict[str, object]:
    """What the login page offers: the company sign-in when configured, and whether passwords are off."""
    return {
        "oidc_enabled": settings.PARLEY_OIDC_ENABLED,
        "oidc_provider_name": settings.PARLEY_OIDC_PROVIDER_NAME,
        "local_passwords_on": local_passwords_on(),
    }


class SignInView(LoginView):
    """Django's login view with Parley's form and the company sign-in button."""

    authentication_form = SignInForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sign_in_options()}


class OIDCSignInStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with a fresh state, nonce and PKCE challenge (kept in the session)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.PARLEY_OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return super().get(request)


def oidc_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back: check the state, let the backend exchange the code and find
    the account, apply the throttles (module docstring), and sign in."""
    if not settings.PARLEY_OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")
    AxesProxyHandler.update_request(request)
    if is_address_locked(request):
        return locked_out(request, None, None)
    if request.GET.get("error"):
        # The person cancelled, or the provider refused them: the provider's own decision, not a guess here.
        _forget_state(request)
        # Only the error's code (RFC 6749's are a-z and _): its description is free text anyone can put in a
        # link, and the login page must not say what a stranger wrote.
        code = re.sub(r"[^a-z_]", "", request.GET["error"].lower())[:40] or "error"
        return _failed(request, f"The company sign-in did not complete ({code}).", count=False)
    entry = _forget_state(request)
    if entry is None or not request.GET.get("code"):
        return _failed(request, "That sign-in link has expired or was used already. Please sign in again.")
    try:
        user = auth.authenticate(request=request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier"))
    except ParleyError as refusal:
        return _failed(request, refusal.message, status=refusal.http_status)
    except (SuspiciousOperation, jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
        # A forged or broken answer: a bad signature, a wrong nonce, issuer or audience, malformed keys or JSON.
        logger.warning("OIDC sign-in refused: %r", error, exc_info=not isinstance(error, SuspiciousOperation))
        return _failed(request, "The company sign-in's answer could not be verified. Please sign in again.")
    except requests.RequestException as error:
        logger.warning("OIDC provider unreachable or refusing: %s", error)
        return _failed(request, "The company sign-in did not answer as expected. Please try again.", status=502)
    if user is None:  # refused by a backend (axes, or the provider's answer): Django counted the failure
        request.axes_locked_out = is_address_locked(request)  # as in _failed: only the address limit decides
        return _failed(request, "The company sign-in did not sign you in. Please try again.", count=False)
    if AxesProxyHandler.is_locked(request, {"username": user.get_username()}):
        return locked_out(request, None, None)
    auth.login(request, user)  # the user_logged_in receiver records the sign-in (accounts.signals)
    return redirect(_next_url(request))


# No CSRF token: the identity provider POSTs here server to server, and the signed Logout Token is the authority.
@csrf_exempt
@require_POST
def oidc_backchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Back-Channel Logout 1.0: the provider says someone signed out there (or was switched off),
    and their Parley sessions end (accounts.oidc, accounts.services.oidc_backchannel_logout). 200 when done or
    nothing to do, 400 with the reason for a token the spec refuses; never cached."""
    if not settings.PARLEY_OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")
    try:
        token = oidc_logout_token_verify(request.POST.get("logout_token", ""))
        services.oidc_backchannel_logout(
            jti=token.jti, subject=token.subject, session_id=token.session_id, remember_for=LOGOUT_TOKEN_REPLAY_WINDOW
        )
    except ParleyError as refusal:
        logger.warning("OIDC back-channel logout refused: %s", refusal.message)
        answer = JsonResponse({"error": refusal.code, "error_description": refusal.message}, status=refusal.http_status)
    else:
        answer = HttpResponse(status=200)
    answer["Cache-Control"] = "no-store"
    return answer


def _forget_state(request: HttpRequest) -> dict | None:
    """The session's entry for this callback's state, removed so it cannot be used twice (a replay)."""
    states = request.session.get("oidc_states")
    state = request.GET.get("state", "")
    if not isinstance(states, dict) or state not in states:
        return None
    entry = states.pop(state)
    request.session.modified = True
    return entry if isinstance(entry, dict) else None


def _next_url(request: HttpRequest) -> str:
    target = request.session.pop("oidc_login_next", None) or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return settings.LOGIN_REDIRECT_URL


def _failed(request: HttpRequest, message: str, *, status: int = 400, count: bool = True) -> HttpResponse:
    """The login page with why the company sign-in failed; a failure anyone could provoke counts toward the
    address's lockout (module docstring)."""
    if count:
        # Recorded by axes under a name no account can have, so it adds to the address's total and IT sees it for
        # what it is in the admin; axes would also lock that (name, address) pair at the username limit, which
        # would shut a whole office out of the company sign-in after a few stale links: only the address limit
        # decides here.
        user_login_failed.send(sender=__name__, credentials={"username": FAILED_CALLBACK_USERNAME}, request=request)
        request.axes_locked_out = is_address_locked(request)
        if request.axes_locked_out:
            return locked_out(request, None, None)
    context = {"form": SignInForm(request), "sign_in_error": message, **sign_in_options()}
    return render(request, "registration/login.html", context, status=status)
