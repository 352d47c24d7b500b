"""Supervision (FINRA 3110): lexicons, sampling rules, the review queue and its append-only decisions.

Imported by archive.models, so they belong to the archive app. The logic is in archive.supervision.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from core.fields import EncryptedTextField


class Risk(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Lexicon(models.Model):
    """Words, phrases and patterns that flag a message, for everyone or for some groups and people.

    Words and phrases match whole words, case and accents ignored ("guarant*" matches any word starting so);
    patterns are regular expressions, refused when they could backtrack catastrophically (archive.supervision).
    A lexicon is deactivated, not deleted: the items it flagged name it.
    """

    name = models.CharField(max_length=100, unique=True)
    words = models.TextField(blank=True, help_text="One word a line; end it with * to match every word so begun.")
    phrases = models.TextField(blank=True, help_text="One phrase a line, matched word for word.")
    patterns = models.TextField(
        blank=True,
        help_text="Optional: one regular expression a line, case ignored. No nested or stacked repetition, "
        "no back-references.",
    )
    risk = models.CharField(max_length=6, choices=Risk.choices, default=Risk.MEDIUM)
    groups = models.ManyToManyField("auth.Group", blank=True, related_name="+", help_text="Empty: everyone.")
    people = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", help_text="Empty (with no groups): everyone."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.risk})"


class SamplingRule(models.Model):
    """The share of a person's unflagged messages of a day that is drawn for review anyway.

    Scope: one person, one group, or the default. A person's own rule wins; else the largest of their groups'
    rules; else the default.
    """

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.OneToOneField("auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    percent = models.DecimalField(max_digits=5, decimal_places=2, help_text="0 to 100.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percent__gte=0, percent__lte=100), name="sampling_percent_in_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(person__isnull=False, group__isnull=False), name="sampling_one_scope"
            ),
            models.UniqueConstraint(
                fields=["percent"],
                condition=models.Q(person__isnull=True, group__isnull=True),
                name="one_default_sampling_rule",
            ),
        ]

    def __str__(self) -> str:
        scope = f"person {self.person}" if self.person_id else f"group {self.group}" if self.group_id else "default"
        return f"{self.percent}% sampled ({scope})"


class SupervisionItem(models.Model):
    """One archive entry to review: flagged by a lexicon (one item per lexicon) or drawn by sampling.

    The entry is named by plain ids (the archive outlives what it describes, and a purge must not cascade). What
    matched is sealed: the archive's text is encrypted, and the terms a message matched say what it said.
    """

    class Kind(models.TextChoices):
        LEXICON = "lexicon"
        SAMPLE = "sample"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    lexicon = models.ForeignKey(Lexicon, null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    risk = models.CharField(max_length=6, choices=Risk.choices)
    entry_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    message_id = models.BigIntegerField(null=True)
    actor_id = models.BigIntegerField(null=True)
    event_type = models.CharField(max_length=24)
    occurred_at = models.DateTimeField()
    flagged_at = models.DateTimeField(auto_now_add=True)
    matched = EncryptedTextField(blank=True, help_text="JSON list of the terms that matched.")

    class Meta:
        ordering = ["-flagged_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry_id", "lexicon"], condition=models.Q(kind="lexicon"), name="one_item_per_lexicon_hit"
            ),
            models.UniqueConstraint(
                fields=["entry_id"], condition=models.Q(kind="sample"), name="one_sample_per_entry"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="lexicon", lexicon__isnull=False)
                | models.Q(kind="sample", lexicon__isnull=True),
                name="supervision_item_kind_shape",
            ),
        ]
        indexes = [models.Index(fields=["flagged_at"]), models.Index(fields=["actor_id", "occurred_at"])]

    def __str__(self) -> str:
        why = f"lexicon {self.lexicon.name}" if self.lexicon_id else "sample"
        return f"item {self.pk} ({why}, entry {self.entry_id})"


class DecisionImmutable(Exception):
    """A supervision decision is evidence: recorded once, never changed or removed."""


class SupervisionDecisionQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise DecisionImmutable("Supervision decisions cannot be changed.")

    def delete(self) -> NoReturn:
        raise DecisionImmutable("Supervision decisions cannot be removed.")


class SupervisionDecision(models.Model):
    """Who decided what about an item, when, and why. Append-only (archive.db_roles grants SELECT, INSERT): a
    later decision (the escalated-to officer's, say) is a new row, and the latest one is the item's state."""

    class Outcome(models.TextChoices):
        REVIEWED = "reviewed"
        ESCALATED = "escalated"
        FALSE_POSITIVE = "false_positive", "False positive"

    item = models.ForeignKey(SupervisionItem, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    objects = SupervisionDecisionQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"
        ordering = ["decided_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome="escalated", escalated_to__isnull=False)
                | (~models.Q(outcome="escalated") & models.Q(escalated_to__isnull=True)),
                name="escalation_names_an_officer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} by {self.decided_by} at {self.decided_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise DecisionImmutable("Supervision decisions cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise DecisionImmutable("Supervision decisions cannot be removed.")


class SupervisionCursor(models.Model):
    """Where the supervision step is: the highest archive entry checked, the ids below it not yet seen
    (inserted by transactions still open when it looked), and the last day sampled. One row."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    checked_through = models.BigIntegerField(default=0)
    # [[entry id, first noticed missing (ISO time)], ...]: looked for again until PARLEY_SUPERVISION_GAP_SECONDS
    # pass (then it was a rolled-back insert).
    pending = models.JSONField(default=list)
    sampled_through = models.DateField(null=True)

    def __str__(self) -> str:
        return f"supervision checked through entry {self.checked_through}"
