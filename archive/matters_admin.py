"""Matters in the compliance desk: saved searches under a case name, their tagged results and their holds.

Only who may read the archive and its matters (Compliance Officers, superusers: accounts.roles) reaches any of
it. The rules are in archive.matters; this module shows them and hands requests over.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe

from accounts.models import User
from archive.forms import ArchiveSearchForm
from archive.matters import (
    TAGGED_SHOWN,
    MatterInvalid,
    matter_close,
    matter_create,
    matter_hold,
    matter_list,
    matter_review_query,
    matter_search,
    matter_tag,
    matter_tagged_entries,
    matter_untag,
)
from archive.models import Matter
from archive.services import archive_access_record
from messenger.models import Conversation

REVIEW_URL = "admin:archive_archiveentry_review"


@admin.register(Matter)
class MatterAdmin(admin.ModelAdmin):
    list_display = ("name", "created_by", "created_at", "state", "hold_state", "tags", "rerun")
    list_display_links = ("name",)
    search_fields = ("name",)
    fields = ("name", "description", "search", "created_by", "created_at", "closed_at", "hold_list")
    readonly_fields = ("search", "created_by", "created_at", "closed_at", "hold_list")
    change_form_template = "admin/archive/matter/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return matter_list()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a matter is saved from the review screen, with the search it answers ("Save as matter")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # closed, never deleted: its tags and holds are evidence

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # A matter shows archive content (tagged entries, searched words): who reads it must read the archive.
        return super().has_view_permission(request, obj) and request.user.has_perm("archive.view_archiveentry")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and request.user.has_perm("archive.view_archiveentry")

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("from-search/", view(self.save_search_view), name="archive_matter_save_search"),
            path("<int:matter_id>/rerun/", view(self.rerun_view), name="archive_matter_rerun"),
            path("<int:matter_id>/tags/", view(self.tags_view), name="archive_matter_tags"),
            path("<int:matter_id>/hold/", view(self.hold_view), name="archive_matter_hold"),
            path("<int:matter_id>/close/", view(self.close_view), name="archive_matter_close"),
            *super().get_urls(),
        ]

    # ---- columns and fields -----------------------------------------------------------------------------

    @admin.display(description="state")
    def state(self, matter: Matter) -> str:
        return f"closed {matter.closed_at:%Y-%m-%d}" if matter.closed_at else "open"

    @admin.display(description="legal hold")
    def hold_state(self, matter: Matter) -> str:
        if not matter.hold_count:
            return "none"
        if matter.open_hold_count:
            return f"held ({matter.open_hold_count} open)"
        return "released"

    @admin.display(description="tags")
    def tags(self, matter: Matter) -> str:
        entries = matter.tagged_entry_count
        return f"{matter.tag_count} on {entries} entr{'y' if entries == 1 else 'ies'}"

    @admin.display(description="search")
    def rerun(self, matter: Matter) -> str:
        return format_html('<a href="{}">rerun</a>', reverse("admin:archive_matter_rerun", args=[matter.pk]))

    @admin.display(description="saved search")
    def search(self, matter: Matter) -> str:
        search = matter_search(matter=matter)
        people = User.objects.filter(pk__in=search.people).order_by("username").values_list("username", flat=True)
        rooms = Conversation.objects.in_bulk(search.conversation_ids)
        where = [
            f"#{rooms[pk].name}" if pk in rooms and rooms[pk].name else f"conversation {pk}"
            for pk in search.conversation_ids
        ]
        parts = [
            ("people", ", ".join(people) or "anyone"),
            ("conversations", ", ".join(where) or "any"),
            ("from", f"{search.since:%Y-%m-%d}" if search.since else "the beginning"),
            ("to", f"{search.until:%Y-%m-%d}" if search.until else "now"),
            ("words", search.words or "any"),
        ]
        listed = format_html_join("", "<dt>{}</dt><dd>{}</dd>", parts)
        url = reverse("admin:archive_matter_rerun", args=[matter.pk])
        return format_html('<dl class="matter-search">{}</dl><a class="button" href="{}">Rerun</a>', listed, url)

    @admin.display(description="legal holds")
    def hold_list(self, matter: Matter) -> str:
        holds = matter.holds.order_by("pk")
        if not holds:
            return "none"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> opened {} by {}{}',
            (
                (
                    reverse("admin:archive_legalhold_change", args=[hold.pk]),
                    hold.case_name,
                    f"{hold.opened_at:%Y-%m-%d %H:%M}",
                    hold.opened_by,
                    f", released {hold.released_at:%Y-%m-%d}" if hold.released_at else " (open)",
                )
                for hold in holds.select_related("opened_by")
            ),
        )

    # ---- pages --------------------------------------------------------------------------------------------

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        matter = self.get_object(request, object_id)
        tagged = None
        if matter is not None and self.has_view_permission(request, matter):
            tagged = matter_tagged_entries(matter=matter)
        extra_context = {**(extra_context or {}), "tagged": tagged, "tagged_shown": TAGGED_SHOWN}
        response = super().change_view(request, object_id, form_url, extra_context)
        if tagged is not None and response.status_code == 200 and request.method == "GET":
            # Shown: the tagged entries were read, so it is recorded like an entry opened.
            details = {"shown": len(tagged.rows), "tagged": tagged.total}
            archive_access_record(user=request.user, action="matter_view", target=matter, details=details)
        return response

    def save_search_view(self, request: HttpRequest) -> HttpResponse:
        """The review screen's "Save as matter": the search it shows (its form's fields) under a name."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_matter(request)):
            raise PermissionDenied
        form = ArchiveSearchForm(request.POST)
        search_again = urlencode({name: request.POST.get(name, "") for name in form.fields})
        back = f"{reverse(REVIEW_URL)}?{search_again}"
        if not form.is_valid():
            messages.error(request, "Fix the search before saving it as a matter.")
            return redirect(back)
        try:
            matter = matter_create(
                by=request.user,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                search=form.search(),
            )
        except MatterInvalid as refused:
            messages.error(request, refused.message)
            return redirect(back)
        messages.success(request, f"Saved as the matter “{matter.name}”: tag its results below.")
        return redirect(f"{reverse(REVIEW_URL)}?{matter_review_query(matter=matter)}")

    def rerun_view(self, request: HttpRequest, matter_id: int) -> HttpResponse:
        """The review screen with the saved criteria (the search it runs is audit-logged there, naming the
        matter)."""
        matter = self._matter(request, matter_id)
        return redirect(f"{reverse(REVIEW_URL)}?{matter_review_query(matter=matter)}")

    def tags_view(self, request: HttpRequest, matter_id: int) -> HttpResponse:
        """Tag or untag the chosen entries (the result list's or the matter page's check boxes), then back."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        matter = self._matter(request, matter_id, change=True)
        untag = request.POST.get("action") == "untag"
        if not request.user.has_perm("archive.change_mattertag" if untag else "archive.add_mattertag"):
            raise PermissionDenied
        ids = [int(value) for value in request.POST.getlist("entries") if value.isascii() and value.isdigit()]
        ids = [pk for pk in ids if pk < 2**63]
        service = matter_untag if untag else matter_tag
        try:
            count = service(matter=matter, by=request.user, entry_ids=ids, tag=request.POST.get("tag", ""))
        except MatterInvalid as refused:
            messages.error(request, refused.message)
        else:
            done = "took the tag off" if untag else "tagged"
            messages.success(request, f"{done.capitalize()} {count} entr{'y' if count == 1 else 'ies'}.")
        return self._back(request, matter)

    def hold_view(self, request: HttpRequest, matter_id: int) -> HttpResponse:
        """The matter page's "Put under legal hold": one hold for the matter's people, conversations and dates."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        matter = self._matter(request, matter_id, change=True)
        if not request.user.has_perm("archive.add_legalhold"):
            raise PermissionDenied
        try:
            hold = matter_hold(matter=matter, by=request.user, reason=request.POST.get("reason", ""))
        except MatterInvalid as refused:
            messages.error(request, refused.message)
        else:
            people, rooms = hold.users.count(), hold.rooms.count()
            covered = f"{people} {'person' if people == 1 else 'people'} and {rooms} conversation{pluralize(rooms)}"
            if not people and not rooms:
                covered = "everything in its dates"
            messages.success(request, f"Legal hold “{hold.case_name}” opened: {covered}.")
        return redirect("admin:archive_matter_change", matter.pk)

    def close_view(self, request: HttpRequest, matter_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        matter = self._matter(request, matter_id, change=True)
        try:
            matter_close(matter=matter, by=request.user)
        except MatterInvalid as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, f"Closed “{matter.name}”. Its legal holds stay open until released.")
        return redirect("admin:archive_matter_change", matter.pk)

    # ---- helpers --------------------------------------------------------------------------------------------

    def has_add_matter(self, request: HttpRequest) -> bool:
        user = request.user
        return user.has_perm("archive.add_matter") and user.has_perm("archive.view_archiveentry")

    def _matter(self, request: HttpRequest, matter_id: int, *, change: bool = False) -> Matter:
        """The matter, after the reader's permission (403 before 404: a refused reader learns nothing)."""
        allowed = self.has_change_permission(request) if change else self.has_view_permission(request)
        if not allowed:
            raise PermissionDenied
        matter = Matter.objects.filter(pk=matter_id).first()
        if matter is None:
            raise Http404(f"No matter {matter_id}.")
        return matter

    def _back(self, request: HttpRequest, matter: Matter) -> HttpResponse:
        """Where the form came from (the review screen or the matter's page), if it is one of ours."""
        back = request.POST.get("next", "")
        if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            return HttpResponseRedirect(back)
        return redirect("admin:archive_matter_change", matter.pk)
