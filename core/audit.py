"""Registering models with django-auditlog without ever logging clear text of encrypted fields."""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from django.db import models

from core.fields import EncryptedTextField


def audit_register(model: type[models.Model], **options: Any) -> None:
    """auditlog.register, with every EncryptedTextField of the model left out of the logged changes."""
    encrypted = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
    options["exclude_fields"] = sorted({*options.get("exclude_fields", []), *encrypted})
    auditlog.register(model, **options)
