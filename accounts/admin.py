from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join

from accounts.errors import SuperuserOnly
from accounts.models import ApiToken, AuthenticatorDevice, GroupSignInPolicy, ScimGroup, ScimToken, SignIn, User
from accounts.services import (
    account_reset_check,
    api_token_revoke,
    privileges_change_check,
    scim_token_issue,
    scim_token_revoke,
    sign_in_unlock,
    two_factor_reset,
    user_deactivate,
    user_reactivate,
    user_sign_out_everywhere,
)
from accounts.user_import_admin import UserImportAdminMixin
from core.admin import ReadOnlyAdmin
from core.audit import audit_record

RECENT_SIGN_INS_SHOWN = 20


@admin.register(User)
class UserAdmin(UserImportAdminMixin, DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "department", "job_title")}),
        ("Sign-in security", {"fields": ("two_factor_required", "two_factor_status", "recent_sign_ins")}),
    )
    readonly_fields = ("two_factor_status", "recent_sign_ins")
    list_display = ("username", "display_name", "email", "department", "job_title", "is_active", "is_staff")
    list_filter = (*DjangoUserAdmin.list_filter, "department")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "department", "job_title")
    actions = ("deactivate", "reactivate", "sign_out_everywhere", "unlock_sign_in", "reset_two_factor")

    # Separation of duties inside the user admin: only superusers grant superuser or staff status or single
    # permissions, grant or take away the IT Admins and Compliance Officers groups (privileges_change_check, which
    # the form below calls), reset a privileged account's password or second factor, and change superusers;
    # nobody but a superuser changes their own groups or active flag. Without this an IT Admin could make
    # themselves or a colleague a Compliance Officer, or take over a real one, and read the archive.
    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups", "is_active"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        actor = request.user

        class PrivilegesCheckedForm(form):
            """Asks the service whether this change grants or takes away a privilege only a superuser gives."""

            def clean(self):
                cleaned = super().clean()
                account = self.instance if self.instance.pk else None  # not yet changed by the form (_post_clean)
                change = {
                    "groups": {group.name for group in cleaned["groups"]} if "groups" in cleaned else None,
                    "is_staff": cleaned.get("is_staff"),
                    "is_superuser": cleaned.get("is_superuser"),
                    "email": cleaned.get("email"),
                }
                try:
                    privileges_change_check(actor=actor, user=account, **change)
                except SuperuserOnly as refusal:
                    raise ValidationError(refusal.message) from None
                return cleaned

        return PrivilegesCheckedForm

    def user_change_password(self, request, id, form_url=""):
        """Admin's "set password" page; refused for someone else's privileged account unless a superuser asks."""
        user = self.get_object(request, unquote(id))
        if user is not None:
            try:
                account_reset_check(actor=request.user, user=user, what="password")
            except SuperuserOnly as refusal:
                self.message_user(request, refusal.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        response = super().user_change_password(request, id, form_url)
        if user is not None and request.method == "POST" and response.status_code == 302:
            audit_record(actor=request.user, target=user, action="password_set")  # the hash itself is never logged
        return response

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deactivate instead. Deleting someone would set the actor of their audit-log rows to NULL, which
        # checkpoints already sealed, and which the application's database role may not do (archive.db_roles).
        return False

    def _manageable(self, request, queryset):
        """The selected users this admin may act on (a non-superuser never acts on superusers)."""
        if request.user.is_superuser:
            return list(queryset)
        people = list(queryset)
        manageable = [person for person in people if not person.is_superuser]
        if len(manageable) < len(people):
            self.message_user(request, "Superusers were left alone: only a superuser changes them.", messages.WARNING)
        return manageable

    @admin.action(description="Deactivate the selected users (sign them out everywhere)", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        for user in self._manageable(request, queryset):  # one by one, through the service: see signals.py
            user_deactivate(user=user)

    @admin.action(description="Reactivate the selected users", permissions=["change"])
    def reactivate(self, request, queryset) -> None:
        for user in self._manageable(request, queryset):
            user_reactivate(user=user)

    @admin.action(description="Sign the selected users out everywhere", permissions=["change"])
    def sign_out_everywhere(self, request, queryset) -> None:
        people = self._manageable(request, queryset)
        ended = sum(user_sign_out_everywhere(user=user, actor=request.user) for user in people)
        self.message_user(request, f"Ended {ended} session(s); their open windows were closed.")

    @admin.action(description="Unlock sign-in (after too many wrong passwords)", permissions=["change"])
    def unlock_sign_in(self, request, queryset) -> None:
        people = self._manageable(request, queryset)
        cleared = sum(sign_in_unlock(username=user.get_username(), actor=request.user) for user in people)
        self.message_user(request, f"Unlocked; {cleared} failed-sign-in record(s) cleared.")

    @admin.action(description="Reset two-factor sign-in (lost phone)", permissions=["change"])
    def reset_two_factor(self, request, queryset) -> None:
        reset = 0
        for user in self._manageable(request, queryset):
            try:
                two_factor_reset(user=user, actor=request.user)
                reset += 1
            except SuperuserOnly as refusal:
                self.message_user(request, refusal.message, messages.ERROR)
        if reset:
            self.message_user(
                request,
                f"Two-factor sign-in was reset for {reset} user(s): they set it up again at their next sign-in "
                "if required.",
                messages.WARNING,
            )

    @admin.display(description="Two-factor sign-in")
    def two_factor_status(self, user: User) -> str:
        if user.pk is None:
            return "—"
        return "set up" if AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists() else "not set up"

    @admin.display(description="Recent sign-ins")
    def recent_sign_ins(self, user: User) -> str:
        sign_ins = SignIn.objects.filter(user=user)[:RECENT_SIGN_INS_SHOWN] if user.pk else []
        rows = format_html_join(
            "\n",
            "<li>{} from {} — {}{}</li>",
            (
                (
                    f"{s.signed_in_at:%Y-%m-%d %H:%M}",
                    s.ip_address or "unknown address",
                    s.browser,
                    f" (ended {s.ended_at:%Y-%m-%d %H:%M}: {s.end_reason})" if s.ended_at else " (active)",
                )
                for s in sign_ins
            ),
        )
        return format_html_join("", "<ul>{}</ul>", [(rows,)]) if sign_ins else "none yet"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (shown once); here IT sees and revokes them.

    Every field is read-only: a token is revoked with the action (the service logs who did it), and a revoked
    token is never brought back, so clearing revoked_at is no door either.
    """

    list_display = ("name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username")
    fields = ("user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_tokens",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a token's record (who had one, when it was used) stays; revoke it instead

    @admin.action(description="Revoke the selected tokens (for good)", permissions=["change"])
    def revoke_tokens(self, request, queryset) -> None:
        revoked = sum(api_token_revoke(token=token, actor=request.user) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s); they stop working at once.")


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    """IT issues the identity provider's SCIM token here (its secret shown once) and revokes it. The permissions
    (accounts.add_scimtoken and friends) belong to IT Admins only (accounts.roles); a token is never edited,
    deleted or brought back, so its record says who issued it and when it was last used."""

    list_display = ("name", "created_by", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    fields = ("name", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_tokens",)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ("name",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: ScimToken, form, change: bool) -> None:
        if change:
            return  # every field is read-only once issued
        issued, secret = scim_token_issue(name=obj.name, actor=request.user)
        obj.pk, obj.created_at = issued.pk, issued.created_at
        request.scim_token_secret = secret

    def response_add(self, request, obj: ScimToken, post_url_continue=None):
        secret = getattr(request, "scim_token_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "SCIM token issued",
            "token": obj,
            "secret": secret,
            "scim_url": request.build_absolute_uri(reverse("scim:root")),
            "changelist_url": reverse("admin:accounts_scimtoken_changelist"),
        }
        # The admin's views are never_cache already: the page with the secret is not kept by the browser.
        return TemplateResponse(request, "admin/accounts/scimtoken/issued.html", context)

    @admin.action(description="Revoke the selected SCIM tokens (for good)", permissions=["change"])
    def revoke_tokens(self, request, queryset) -> None:
        revoked = sum(scim_token_revoke(token=token, actor=request.user) for token in queryset)
        self.message_user(request, f"Revoked {revoked} SCIM token(s); the identity provider is refused at once.")


@admin.register(ScimGroup)
class ScimGroupAdmin(ReadOnlyAdmin):
    """The groups the identity provider pushed, to see which give a role (PARLEY_SCIM_ROLE_GROUPS). Written by
    the provider only: change membership there."""

    list_display = ("display_name", "created_at", "updated_at")
    search_fields = ("display_name",)
    fields = ("display_name", "members", "created_at", "updated_at")


@admin.register(GroupSignInPolicy)
class GroupSignInPolicyAdmin(admin.ModelAdmin):
    """Require two-factor sign-in of a group's members. Its own page rather than a group inline: IT may set
    this without the right to change groups, which would let them grant themselves permissions."""

    list_display = ("group", "two_factor_required")


@admin.register(SignIn)
class SignInAdmin(ReadOnlyAdmin):
    """Sign-in history for IT: who signed in when, from where, with what. Written by Parley only."""

    list_display = ("user", "signed_in_at", "ip_address", "user_agent", "second_factor_at", "ended_at", "end_reason")
    list_filter = ("signed_in_at", "end_reason")
    search_fields = ("user__username", "ip_address")
    date_hierarchy = "signed_in_at"
    list_select_related = ("user",)


# Second-factor devices (AuthenticatorDevice, BackupCodeDevice) have no admin page on purpose: IT resets two-factor
# with the user action above and never sees a secret it could use to pass as the user.
