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


def audit_record(
    *,
    actor: Any,
    target: models.Model,
    action: str,
    changes: dict[str, list[Any]] | None = None,
    details: dict[str, Any] | None = None,
    creates: bool = False,
) -> Any:
    """Put a privileged action that saves no audited field (revoking a token, unlocking sign-in, resetting two
    factors) in the audit log, against the account or token it touched.

    `actor` is who did it; None for an operator at the shell, or to take the signed-in user of an admin request
    (auditlog's middleware fills it in). `action` names what was done; it is kept in additional_data. The row is
    a "create" when the action created `target` (a token), an "update" otherwise.
    """
    from auditlog.models import LogEntry

    kind = LogEntry.Action.CREATE if creates else LogEntry.Action.UPDATE
    return LogEntry.objects.log_create(
        target,
        force_log=True,
        action=kind,
        actor=actor,
        actor_email=getattr(actor, "email", None),
        changes=changes or {},
        serialized_data=None,
        additional_data={"privileged_action": action, **(details or {})},
    )
