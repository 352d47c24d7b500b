"""The transcript view under the archive's admin: one conversation over dates, to read, print or download as
HTML with its chain-of-custody footer. Thin: check, call archive.review.transcript, record the access, render."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from archive.forms import TranscriptForm
from archive.review import transcript
from archive.services import archive_access_record


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
