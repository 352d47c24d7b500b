from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "department", "job_title")}),
    )
    list_display = ("username", "display_name", "email", "department", "job_title", "is_active", "is_staff")
    list_filter = (*DjangoUserAdmin.list_filter, "department")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "department", "job_title")
