"""Games in admin: IT switches them off for the whole company or for one group (GamePolicy, audit-logged by
games.apps). Games themselves have no admin page: their moves are communication, which IT does not read; the
archive keeps them for compliance."""

from __future__ import annotations

from django.contrib import admin

from games.models import GamePolicy


@admin.register(GamePolicy)
class GamePolicyAdmin(admin.ModelAdmin):
    """One row without a group is the company-wide switch; a row per group switches that group's members.
    Off wins: a user is refused when any policy that applies to them says off."""

    list_display = ("__str__", "group", "games_enabled")
    list_filter = ("games_enabled",)
    list_select_related = ("group",)
    fields = ("group", "games_enabled")
