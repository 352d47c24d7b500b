"""Matters: a saved search under a case name, the results tagged for it, and the legal holds it opened.

Imported by archive.models, so they belong to the archive app. The logic is in archive.matters.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from core.fields import EncryptedTextField


class Matter(models.Model):
    """A case ("SEC inquiry 24-117") and the archive search that answers it, rerun at will.

    The criteria (ArchiveSearch.criteria(), as JSON) are sealed like the words of a search in the audit log:
    what compliance looks for says as much as what it finds. A matter is closed, never deleted.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    criteria = EncryptedTextField()  # JSON: people, conversation_ids, since, until, words
    holds = models.ManyToManyField("archive.LegalHold", blank=True, related_name="matters", editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class MatterTag(models.Model):
    """One tag on one archive entry in one matter. Removing it stamps `removed_*`; the row stays, so who tagged
    and who untagged what, and when, is kept. Tagging again after a removal is a new row."""

    matter = models.ForeignKey(Matter, on_delete=models.PROTECT, related_name="tags")
    # A plain id, as everywhere the archive is referred to: a purged entry leaves its tags naming it.
    entry_id = models.BigIntegerField()
    tag = models.CharField(max_length=40)
    tagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tagged_at = models.DateTimeField(auto_now_add=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One live tag per (matter, entry, tag): concurrent taggers collide here and the second is a no-op.
            models.UniqueConstraint(
                fields=["matter", "entry_id", "tag"],
                condition=models.Q(removed_at__isnull=True),
                name="one_live_tag_per_matter_entry",
            ),
            models.CheckConstraint(
                condition=models.Q(removed_at__isnull=True, removed_by__isnull=True)
                | models.Q(removed_at__isnull=False, removed_by__isnull=False),
                name="matter_tag_removal_names_who",
            ),
        ]
        indexes = [models.Index(fields=["matter", "entry_id"])]

    def __str__(self) -> str:
        return f"{self.tag} on entry {self.entry_id} ({self.matter})"
