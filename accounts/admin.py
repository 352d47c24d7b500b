from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import ApiToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "department", "job_title")}),
    )
    list_display = ("username", "display_name", "email", "department", "job_title", "is_active", "is_staff")
    list_filter = (*DjangoUserAdmin.list_filter, "department")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "department", "job_title")


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
