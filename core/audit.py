"""Registering models with django-auditlog without ever logging clear text of encrypted fields."""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from django.db import models

from core.fields import EncryptedTextField


def audit_register(model: type[models.Model], **options: Any) -> None:
    """auditlog.register, with every EncryptedTextField of the model left out of the logged changes and data.

    Register models that have encrypted fields through this, never auditlog.register directly.
    """
    encrypted = {f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)}
    options["exclude_fields"] = sorted({*options.get("exclude_fields", []), *encrypted})
    if options.get("serialize_data"):
        # Not even the ciphertext: a copy in the log would outlive the row's retention and its key's rotation.
        serialize_kwargs = dict(options.get("serialize_kwargs") or {})
        fields = serialize_kwargs.get("fields") or [f.name for f in model._meta.concrete_fields]
        serialize_kwargs["fields"] = [name for name in fields if name not in encrypted]
        options["serialize_kwargs"] = serialize_kwargs
    auditlog.register(model, **options)
