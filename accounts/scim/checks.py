"""A system check of the SCIM settings: `manage.py migrate` and `check` refuse a wrong role mapping with a clear
message, before the identity provider's requests meet it (they would get 503, accounts.scim.views)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from accounts.directory import DirectoryConfigError, role_mapping_parse


def scim_role_groups_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        role_mapping_parse(settings.PARLEY_SCIM_ROLE_GROUPS)
    except DirectoryConfigError as error:
        return [checks.Error(f"PARLEY_SCIM_ROLE_GROUPS: {error.message}", id="parley.E101")]
    return []
