from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html_join

from accounts.models import ApiToken, AuthenticatorDevice, GroupSignInPolicy, SignIn, User
from accounts.services import (
    sign_in_unlock,
    signed_out_everywhere,
    two_factor_reset,
    user_deactivate,
    user_reactivate,
)
from accounts.user_import_admin import UserImportAdminMixin
from core.admin import ReadOnlyAdmin

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

    # Separation of duties inside the user admin: only superusers grant superuser status or single permissions,
    # and change superusers; nobody but a superuser changes their own groups, staff status or active flag.
    # Without this an IT Admin could make themselves superuser, or a Compliance Officer, and read the archive.
    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups", "is_staff", "is_active"]
        return fields

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

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
        ended = sum(signed_out_everywhere(user_id=user.pk, reason="signed_out_by_it") for user in people)
        self.message_user(request, f"Ended {ended} session(s); their open windows were closed.")

    @admin.action(description="Unlock sign-in (after too many wrong passwords)", permissions=["change"])
    def unlock_sign_in(self, request, queryset) -> None:
        cleared = sum(sign_in_unlock(username=user.get_username()) for user in self._manageable(request, queryset))
        self.message_user(request, f"Unlocked; {cleared} failed-sign-in record(s) cleared.")

    @admin.action(description="Reset two-factor sign-in (lost phone)", permissions=["change"])
    def reset_two_factor(self, request, queryset) -> None:
        for user in self._manageable(request, queryset):
            two_factor_reset(user=user)
        self.message_user(
            request,
            "Two-factor sign-in was reset: they set it up again at their next sign-in if required.",
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
                    s.user_agent[:80] or "unknown browser",
                    f" (ended {s.ended_at:%Y-%m-%d %H:%M}: {s.end_reason})" if s.ended_at else " (active)",
                )
                for s in sign_ins
            ),
        )
        return format_html_join("", "<ul>{}</ul>", [(rows,)]) if sign_ins else "none yet"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (shown once); here IT sees and revokes them."""

    list_display = ("name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username")
    fields = ("user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "created_at", "last_used_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


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
