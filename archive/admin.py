"""Django admin for compliance officers: review entries (read-only), manage retention and legal holds."""

from __future__ import annotations

import copy
import io
import json
import tempfile
from functools import partial
from urllib.parse import urlencode

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from archive.export import ExportBlocked, archive_export
from archive.formats import FORMATS, archive_export_zip
from archive.forms import ArchiveSearchForm
from archive.models import ArchiveCheckpoint, ArchiveEntry, EventType, LegalHold, RetentionPolicy
from archive.retention import floor_days_for, legal_hold_release
from archive.review import readable_entries, readable_entry
from archive.review_views import transcript_view
from archive.selectors import (
    REVIEW_PAGE,
    SearchCursorInvalid,
    archive_search,
    audit_access_details,
    audit_log_is_for_everyone,
    audit_log_visible_to,
    conversations_matching,
    shared_file_of,
)
from archive.services import archive_access_record
from core.admin import ReadOnlyAdmin
from core.downloads import file_response
from core.sealed_audit import changes_as_written, changes_shown


@admin.register(ArchiveEntry)
class ArchiveEntryAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "event_type", "conversation_id", "position", "actor_id", "message_id")
    list_filter = ("event_type",)
    search_fields = ("=conversation_id", "=actor_id", "=message_id")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at",)
    fields = (
        "reading",
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
        review = self.admin_site.admin_view(self.review_view)
        export = self.admin_site.admin_view(self.export_view)
        transcript = self.admin_site.admin_view(partial(transcript_view, self))
        return [
            path("review/transcript/", transcript, name="archive_archiveentry_transcript"),
            path("<int:entry_id>/file/", download, name="archive_archiveentry_file"),
            path("review/", review, name="archive_archiveentry_review"),
            path("review/export/", export, name="archive_archiveentry_export"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:  # shown, not refused or missing: that someone read it is recorded
            entry = response.context_data["original"]
            archive_access_record(user=request.user, action="entry_view", target=entry, details={})
        return response

    def review_view(self, request: HttpRequest) -> HttpResponse:
        """Search by people, conversations, dates and words; read the hits as a transcript. Audit-logged."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ArchiveSearchForm(request.GET if request.GET else None)
        result = rows = next_page = None
        after = request.GET.get("after") or None  # a page after the first: the cursor the previous page handed out
        status = 200
        if form.is_valid():
            search = form.search()
            try:
                result = archive_search(search=search, limit=REVIEW_PAGE, after=after)
            except SearchCursorInvalid as error:
                form.add_error(None, str(error))
                status = 400
            else:
                rows = readable_entries(result.hits, words=search.words)
                details = {"criteria": search.criteria(), "shown": len(rows), "more": result.more}
                if after:
                    details["after"] = after
                archive_access_record(user=request.user, action="search", details=details)
                if result.next_after:
                    next_page = urlencode({**request.GET.dict(), "after": result.next_after})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Search and review the archive",
            "form": form,
            "result": result,
            "rows": rows,
            "next_page": next_page,
            "is_later_page": bool(after),
            "query": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/archive/archiveentry/review.html", context, status=status)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The conversations a search matches, as a verifiable export (docs/compliance.md). Audit-logged."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ArchiveSearchForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Fix the search before exporting it.")
            return redirect("admin:archive_archiveentry_review")
        search = form.search()
        search_again = urlencode({name: request.POST.get(name, "") for name in form.fields})
        export_format = request.POST.get("format", "")  # "": the JSON Lines file alone; else a ZIP (formats.py)
        if export_format and export_format not in FORMATS:
            messages.error(request, f"Unknown export format {export_format!r}.")
            return redirect(f"{reverse('admin:archive_archiveentry_review')}?{search_again}")
        conversation_ids = conversations_matching(search=search)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it) An export can be large: on disk.
        out = spool if export_format else io.TextIOWrapper(spool, encoding="utf-8")
        query = {"conversation_ids": conversation_ids, "since": search.since, "until": search.until}
        try:
            if export_format:
                counts = archive_export_zip(
                    out=out, export_format=export_format, requested_by=request.user.get_username(), **query
                )
            else:
                counts = archive_export(out=out, requested_by=request.user.get_username(), **query)
        except ExportBlocked as blocked:
            out.close()
            messages.error(request, str(blocked))
            return redirect(f"{reverse('admin:archive_archiveentry_review')}?{search_again}")
        if not export_format:
            out.flush()
            out.detach()
        details = {"criteria": search.criteria(), "conversation_ids": conversation_ids, **counts}
        details["format"] = export_format or "jsonl file"
        archive_access_record(user=request.user, action="export", details=details)
        spool.seek(0)
        stamp = f"parley-archive-{timezone.now():%Y%m%d-%H%M%S}"
        if export_format:
            name = f"{stamp}-{export_format}.zip"
            return FileResponse(spool, as_attachment=True, filename=name, content_type="application/zip")
        return FileResponse(spool, as_attachment=True, filename=f"{stamp}.jsonl", content_type="application/jsonl")

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
        archive_access_record(user=request.user, action="file_download", target=attachment, details={"entry": entry.pk})
        return file_response(attachment, allow_inline=False)

    @admin.display(description="as read")
    def reading(self, entry: ArchiveEntry) -> str:
        """Who (as of the event), where, what happened, in words: the same reading as the review screen's."""
        row = readable_entry(pk=entry.pk)
        if row is None:
            return "This entry does not open: run manage.py verify_archive."
        return render_to_string("admin/archive/archiveentry/_reading.html", {"row": row})

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
        floor = floor_days_for(self.cleaned_data.get("scope") or RetentionPolicy.Scope.DEFAULT)
        if days < floor:
            raise forms.ValidationError(f"At least {floor} days (the retention floor, SEC 17a-4 / FINRA 4511).")
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


# ---- the audit log ------------------------------------------------------------------------------------------

admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class ParleyLogEntryAdmin(LogEntryAdmin):
    """auditlog's admin, narrowed per reader by archive.selectors.audit_log_visible_to on every page it has
    (list, search, filters, date drill-down, detail, history): IT reads the history of accounts, rooms and
    settings; compliance reads everything, with the words it searched for opened."""

    fieldsets = [*LogEntryAdmin.fieldsets, ("Archive access", {"fields": ["access_details"]})]
    readonly_fields = [*LogEntryAdmin.readonly_fields, "access_details"]

    def get_queryset(self, request: HttpRequest):
        return audit_log_visible_to(user=request.user, entries=super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is not None and obj.action == LogEntry.Action.ACCESS:
            return self.fieldsets
        return LogEntryAdmin.fieldsets

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def _visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        # Django's admin answers a missing object with a redirect; a row this reader may not see is not found.
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such audit-log entry.")

    def _readable(self, entry: LogEntry) -> LogEntry:
        """The entry with the changes to show. A sealed original (a file name, a topic from before they were
        sealed) is opened only in rows IT never reads; rows IT reads show what is left in clear, to everyone.
        Decided by the row, not the reader: auditlog's admin keeps the request on the shared admin instance."""
        shown = copy.copy(entry)
        content_type = entry.content_type
        if audit_log_is_for_everyone(app_label=content_type.app_label, model=content_type.model):
            shown.changes = changes_shown(entry.changes)
        else:
            shown.changes = changes_as_written(entry.changes, log_id=entry.pk)
        return shown

    @admin.display(description="Changes")
    def msg_short(self, obj: LogEntry) -> str:
        return super().msg_short(self._readable(obj))

    @admin.display(description="Changes")
    def msg(self, obj: LogEntry) -> str:
        return super().msg(self._readable(obj))

    @admin.display(description="recorded")
    def access_details(self, obj: LogEntry) -> str:
        """An archive access row (only those who may read the archive get one shown: get_queryset)."""
        if obj.action != LogEntry.Action.ACCESS:
            return "—"
        details = audit_access_details(entry=obj)
        return format_html("<pre>{}</pre>", json.dumps(details, indent=2, ensure_ascii=False))


# The supervision desk (FINRA 3110) registers its own admin pages.
from archive import supervision_admin  # noqa: E402, F401
