from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import ApiToken, User
from accounts.services import user_deactivate, user_reactivate


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "department", "job_title")}),
    )
    list_display = ("username", "display_name", "email", "department", "job_title", "is_active", "is_staff")
    list_filter = (*DjangoUserAdmin.list_filter, "department")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "department", "job_title")
    actions = ("deactivate", "reactivate")

    @admin.action(description="Deactivate the selected users (sign them out everywhere)")
    def deactivate(self, request, queryset) -> None:
        for user in queryset:  # one by one, through the service: a queryset update would skip the sign-out
            user_deactivate(user=user)

    @admin.action(description="Reactivate the selected users")
    def reactivate(self, request, queryset) -> None:
        for user in queryset:
            user_reactivate(user=user)


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
