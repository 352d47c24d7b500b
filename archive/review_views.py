"""The transcript view under the archive's admin: one conversation over dates, to read, print or download as
HTML with its chain-of-custody footer. Thin: check, call archive.review.transcript, record the access, render."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from archive.forms import MAX_ID
from archive.models import ArchiveEntry
from archive.review import transcript
from archive.services import archive_access_record
from messenger.models import Conversation


class TranscriptForm(forms.Form):
    conversation = forms.IntegerField(min_value=1, max_value=MAX_ID)
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    download = forms.BooleanField(required=False)

    def clean_conversation(self) -> int:
        pk = self.cleaned_data["conversation"]
        if (
            not Conversation.objects.filter(pk=pk).exists()
            and not ArchiveEntry.objects.filter(conversation_id=pk).exists()
        ):
            raise forms.ValidationError(f"No conversation {pk}.")
        return pk

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“From” is after “To”.")
        return cleaned

    def dates(self) -> tuple[datetime | None, datetime | None]:
        """Whole days in the server's time zone, `To` included (as the search and the export read them)."""
        zone = timezone.get_current_timezone()
        since, until = self.cleaned_data["since"], self.cleaned_data["until"]
        return (
            datetime.combine(since, time.min, zone) if since else None,
            datetime.combine(until, time.max, zone) if until else None,
        )


def transcript_view(model_admin, request: HttpRequest) -> HttpResponse:
    """A conversation as a readable transcript; `download=1` gives it as a standalone HTML file. Audit-logged."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = TranscriptForm(request.GET)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Transcript",
        "form": form,
    }
    if not form.is_valid():
        return TemplateResponse(request, "admin/archive/archiveentry/transcript.html", context, status=400)
    since, until = form.dates()
    conversation_id = form.cleaned_data["conversation"]
    download = form.cleaned_data["download"]
    shown = transcript(conversation_id=conversation_id, since=since, until=until)
    archive_access_record(
        user=request.user,
        action="transcript_download" if download else "transcript",
        details={
            "conversation_id": conversation_id,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "shown": len(shown.rows),
            "checkpoint": shown.custody.checkpoint_id if shown.custody else None,
        },
    )
    context |= {
        "title": f"Transcript of {shown.where}",
        "transcript": shown,
        "requested_by": request.user.get_username(),
        "generated_at": timezone.now(),
        "download_query": f"{request.GET.urlencode()}&download=1",
    }
    if download:
        response = TemplateResponse(request, "admin/archive/archiveentry/transcript_document.html", context)
        name = f"parley-transcript-{conversation_id}-{timezone.now():%Y%m%d-%H%M%S}.html"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return TemplateResponse(request, "admin/archive/archiveentry/transcript.html", context)
