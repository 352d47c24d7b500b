"""The desk's exports under the archive's admin: queue one from a search, follow it in "My exports", download it.
Thin: check the role, call archive.export_jobs, map its refusals to responses here and nowhere else."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from archive.export_jobs import (
    ExportUnavailable,
    export_download,
    export_job_for,
    export_job_request,
    export_job_status,
    export_jobs_of,
)
from archive.formats import FORMATS
from archive.forms import ArchiveSearchForm
from archive.models import ExportJob

MY_EXPORTS_SHOWN = 50


def export_queue_view(model_admin, request: HttpRequest) -> HttpResponse:
    """The conversations a search matches, queued as a background export in the chosen format. Audit-logged."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = ArchiveSearchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Fix the search before exporting it.")
        return redirect("admin:archive_archiveentry_review")
    search_again = urlencode({name: request.POST.get(name, "") for name in form.fields})
    export_format = request.POST.get("format") or "jsonl"  # the verifiable JSON Lines export, in a ZIP
    if export_format not in FORMATS:
        messages.error(request, f"Unknown export format {export_format!r}.")
        return redirect(f"{reverse('admin:archive_archiveentry_review')}?{search_again}")
    job = export_job_request(user=request.user, search=form.search(), export_format=export_format)
    messages.success(request, f"Export {job.pk} is queued; it is ready to download here when done.")
    return redirect("admin:archive_archiveentry_exports")


def my_exports_view(model_admin, request: HttpRequest) -> HttpResponse:
    """The exports this officer asked for, with their progress (static/js/export-progress.js polls the status)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "My exports",
        "jobs": export_jobs_of(user=request.user)[:MY_EXPORTS_SHOWN],
        "running_states": [ExportJob.State.QUEUED, ExportJob.State.RUNNING],
        "keep_days": settings.PARLEY_EXPORT_KEEP_DAYS,
    }
    return TemplateResponse(request, "admin/archive/archiveentry/exports.html", context)


def export_status_view(model_admin, request: HttpRequest, job_id: int) -> HttpResponse:
    """One export's state and progress as JSON; 404 for anyone's but one's own."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        job = export_job_for(user=request.user, job_id=job_id)
    except ExportJob.DoesNotExist:
        raise Http404("No such export of yours.") from None
    return JsonResponse(export_job_status(job))


def export_download_view(model_admin, request: HttpRequest, job_id: int) -> HttpResponse:
    """The finished ZIP, streamed as it is opened (constant memory), to the officer who asked for it alone."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        job, chunks = export_download(user=request.user, job_id=job_id)
    except ExportJob.DoesNotExist:
        raise Http404("No such export of yours.") from None
    except ExportUnavailable as refusal:
        return HttpResponse(str(refusal), status=refusal.status, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    name = f"parley-archive-{job.created_at:%Y%m%d-%H%M%S}-{job.pk}-{job.export_format}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Content-Length"] = str(job.size)
    return response
