"""Model fields whose values are sealed by core.crypto before they reach the database."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

from core import crypto

SERIALIZED_PREFIX = "sealed:"


@dataclass(frozen=True)
class Sealed:
    """Ciphertext as stored, not yet opened. Rows load as Sealed and open on first attribute access."""

    data: bytes

    def __repr__(self) -> str:
        return f"<Sealed {len(self.data)} bytes>"


def field_context(model: type[models.Model], field_name: str, binding: Any) -> str:
    """The associated data for one value: model, field and the row's binding key (its uuid)."""
    if binding is None or binding == "":
        raise ValueError(f"{model._meta.label}.{field_name}: the binding field is empty, so it cannot be sealed.")
    return f"{model._meta.label_lower}.{field_name}:{binding}"


class _OpensOnAccess:
    """Descriptor: keeps the Sealed value a row was loaded with and opens it the first time it is read."""

    def __init__(self, field: EncryptedTextField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if isinstance(value, Sealed):
            value = crypto.unseal_text(value.data, context=self.field.context_for(instance))
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.BinaryField):
    """Text sealed with AES-256-GCM, bound to the row through `bind_to`, a field set before insert (a UUID).

    Code reads and assigns plain `str`; the database only ever sees ciphertext. Writing clear text any other
    way (`QuerySet.update(body="...")`, a filter on the value) raises rather than store or compare it.
    Serialization (dumpdata) writes the ciphertext, so fixtures and audit logs never hold the clear text.
    """

    def __init__(self, *args: Any, bind_to: str = "uid", **kwargs: Any) -> None:
        self.bind_to = bind_to
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.bind_to != "uid":
            kwargs["bind_to"] = self.bind_to
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, self.attname, _OpensOnAccess(self))

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        try:
            self.model._meta.get_field(self.bind_to)
        except FieldDoesNotExist:
            errors.append(
                checks.Error(
                    f"{self.model._meta.label}.{self.name} binds to {self.bind_to!r}, which is not a field.",
                    obj=self,
                    id="parley.E001",
                )
            )
        return errors

    def _check_str_default_value(self) -> list:
        return []  # BinaryField wants bytes; this field's default is text, sealed on save like any value

    def get_default(self) -> Any:
        """Text ("" when none is given), never BinaryField's b"": an instance holds clear text until saved."""
        if self.has_default() and not callable(self.default):
            return self.default
        return models.Field.get_default(self)

    def context_for(self, instance: models.Model) -> str:
        return field_context(type(instance), self.name, getattr(instance, self.bind_to))

    def open(self, value: Sealed, *, binding: Any) -> str:
        """Open a value read without a model instance (`values_list`), given its row's binding key: for
        streaming many rows without building an instance for each."""
        return crypto.unseal_text(value.data, context=field_context(self.model, self.name, binding))

    def sealed_value(self, instance: models.Model) -> bytes | None:
        """The ciphertext for the instance's current value, sealing clear text that was assigned."""
        value = instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return None if value is None else value.data
        if not isinstance(value, str):
            raise TypeError(f"{self.model._meta.label}.{self.name} holds text, not {type(value).__name__}.")
        return crypto.seal_text(value, context=self.context_for(instance))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        sealed = self.sealed_value(model_instance)
        return None if sealed is None else Sealed(sealed)

    def get_db_prep_value(self, value: Any, connection, prepared: bool = False) -> Any:
        if isinstance(value, Sealed):
            value = value.data
        elif isinstance(value, str):
            raise ValueError(
                f"{self.model._meta.label}.{self.name} is encrypted: assign on an instance and save() it; "
                "clear text is never written or compared in SQL."
            )
        return super().get_db_prep_value(value, connection, prepared)

    def from_db_value(self, value: Any, expression, connection) -> Sealed | None:
        return None if value is None else Sealed(bytes(value))

    def to_python(self, value: Any) -> Any:
        """Deserialization: "sealed:<base64>" (what value_to_string writes) back to ciphertext; text stays text."""
        if isinstance(value, str) and value.startswith(SERIALIZED_PREFIX):
            try:
                data = base64.b64decode(value.removeprefix(SERIALIZED_PREFIX), validate=True)
                crypto.sealed_key_id(data)
            except (ValueError, crypto.DecryptionError):
                raise ValidationError(f"{self.model._meta.label}.{self.name}: not a sealed value.") from None
            return Sealed(data)
        return value

    def clean(self, value: Any, model_instance: models.Model) -> Any:
        """Validate the text as assigned, without to_python: a message may well start with "sealed:"."""
        self.validate(value, model_instance)
        self.run_validators(value)
        return value

    def value_to_string(self, obj: models.Model) -> str:
        sealed = self.sealed_value(obj)
        return "" if sealed is None else SERIALIZED_PREFIX + base64.b64encode(sealed).decode()
