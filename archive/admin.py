"""Django admin for compliance officers: review entries (read-only), manage retention and legal holds."""

from __future__ import annotations

import json

from auditlog.signals import accessed
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from archive.models import ArchiveCheckpoint, ArchiveEntry, EventType, LegalHold, RetentionPolicy
from archive.retention import legal_hold_release
from archive.selectors import shared_file_of
from core.admin import ReadOnlyAdmin
from messenger.files import file_response
from messenger.models import Attachment


@admin.register(ArchiveEntry)
class ArchiveEntryAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "event_type", "conversation_id", "position", "actor_id", "message_id")
    list_filter = ("event_type",)
    search_fields = ("=conversation_id", "=actor_id", "=message_id")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at",)
    fields = (
        "occurred_at",
        "event_type",
        "conversation_id",
        "position",
        "actor_id",
        "participants",
        "message_id",
        "content",
        "shared_file",
        "prev_hash",
        "entry_hash",
    )
    readonly_fields = fields
    show_full_result_count = False  # counting millions of entries on every page load is not worth it

    def get_urls(self):
        download = self.admin_site.admin_view(self.shared_file_download)
        return [path("<int:entry_id>/file/", download, name="archive_archiveentry_file"), *super().get_urls()]

    @admin.display(description="shared file")
    def shared_file(self, entry: ArchiveEntry) -> str:
        if entry.event_type != EventType.FILE_SHARED:
            return "—"
        name = json.loads(entry.payload)["content"]["file"]["name"]
        return format_html(
            '<a href="{}">Download {}</a>', reverse("admin:archive_archiveentry_file", args=[entry.pk]), name
        )

    def shared_file_download(self, request: HttpRequest, entry_id: int) -> HttpResponse:
        """The file a "file shared" entry records, for review; each download is audit-logged (access)."""
        entry = get_object_or_404(ArchiveEntry, pk=entry_id, event_type=EventType.FILE_SHARED)
        if not self.has_view_permission(request, entry):
            raise PermissionDenied
        attachment = shared_file_of(entry)
        if attachment is None:
            raise Http404("The file is no longer kept.")
        accessed.send(sender=Attachment, instance=attachment)
        return file_response(attachment, allow_inline=False)

    @admin.display(description="content")
    def content(self, entry: ArchiveEntry) -> str:
        payload = json.loads(entry.payload)
        return format_html("<pre>{}</pre>", json.dumps(payload["content"], indent=2, ensure_ascii=False))


@admin.register(ArchiveCheckpoint)
class ArchiveCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "reason", "document_hash")
    readonly_fields = ("created_at", "reason", "document", "document_hash", "public_key", "signature")


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ("name", "scope", "room", "group", "archive_days", "live_days")

    def clean_archive_days(self) -> int:
        days = self.cleaned_data["archive_days"]
        floor = settings.PARLEY_RETENTION_FLOOR_DAYS
        if days < floor:
            raise forms.ValidationError(f"At least {floor} days (PARLEY_RETENTION_FLOOR_DAYS).")
        return days


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    form = RetentionPolicyForm
    list_display = ("name", "scope", "room", "group", "archive_days", "live_days")
    list_filter = ("scope",)


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    list_display = ("case_name", "opened_by", "opened_at", "starts_at", "ends_at", "released_at")
    list_filter = ("released_at",)
    search_fields = ("case_name", "reason")
    filter_horizontal = ("users", "rooms")
    readonly_fields = ("opened_by", "opened_at", "released_by", "released_at")
    actions = ("release_holds",)

    def save_model(self, request, obj: LegalHold, form, change: bool) -> None:
        if not change:
            obj.opened_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a hold is released, never deleted: its history is evidence

    @admin.action(description="Release the selected holds")
    def release_holds(self, request, queryset) -> None:
        released = 0
        for hold in queryset.filter(released_at__isnull=True):
            legal_hold_release(hold=hold, by=request.user)
            released += 1
        self.message_user(request, f"Released {released} hold(s) at {timezone.now():%Y-%m-%d %H:%M}.", messages.SUCCESS)
