"""The supervision desk in the admin (FINRA 3110): lexicons, sampling rules, the review queue and the decisions.

Only who may view supervision items (Compliance Officers, superusers: accounts.roles) sees any of it; the logic
is in archive.supervision, this module only shows it and hands decisions over.
"""

from __future__ import annotations

import io
import tempfile
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from archive.models import ArchiveEntry, Lexicon, SamplingRule, SupervisionDecision, SupervisionItem
from archive.selectors import FIELDS, open_entry
from archive.services import archive_access_record
from archive.supervision import (
    OPEN,
    SupervisionInvalid,
    item_matched_terms,
    items_escalated_to,
    items_of_group,
    items_overdue,
    lexicon_lines,
    officers,
    pattern_refusal,
    supervised_text,
    supervision_decide,
    supervision_decisions_csv,
    supervision_overdue_since,
)
from core.admin import ReadOnlyAdmin
from core.crypto import DecryptionError
from messenger.models import Conversation

# ---- lexicons and sampling ----------------------------------------------------------------------------------


class LexiconForm(forms.ModelForm):
    class Meta:
        model = Lexicon
        fields = ("name", "risk", "words", "phrases", "patterns", "groups", "people", "is_active")

    def clean_patterns(self) -> str:
        patterns = self.cleaned_data["patterns"]
        refusals = [f"{line}: {why}" for line in lexicon_lines(patterns) if (why := pattern_refusal(line))]
        if refusals:
            raise forms.ValidationError(refusals)
        return patterns

    def clean(self) -> dict:
        cleaned = super().clean()
        if not any(lexicon_lines(cleaned.get(name) or "") for name in ("words", "phrases", "patterns")):
            raise forms.ValidationError("Give at least one word, phrase or pattern.")
        return cleaned


@admin.register(Lexicon)
class LexiconAdmin(admin.ModelAdmin):
    form = LexiconForm
    list_display = ("name", "risk", "is_active", "applies_to")
    list_filter = ("risk", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("groups", "people")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivated, never deleted: the items it flagged name it

    @admin.display(description="applies to")
    def applies_to(self, lexicon: Lexicon) -> str:
        named = [f"group {group.name}" for group in lexicon.groups.all()]
        named += [person.get_username() for person in lexicon.people.all()]
        return ", ".join(named) or "everyone"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("groups", "people")


@admin.register(SamplingRule)
class SamplingRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "percent", "person", "group")


# ---- the queue ----------------------------------------------------------------------------------------------


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            (OPEN, "open"),
            ("overdue", "overdue"),
            *((value, label) for value, label in SupervisionDecision.Outcome.choices),
        ]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return items_overdue(queryset)
        if self.value():
            return queryset.filter(state=self.value())
        return queryset


class EscalatedToMeFilter(admin.SimpleListFilter):
    title = "escalated"
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return [("me", "to me")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return items_escalated_to(queryset, officer=request.user)
        return queryset


class PersonFilter(admin.SimpleListFilter):
    title = "person"
    parameter_name = "person"

    def lookups(self, request, model_admin):
        authors = SupervisionItem.objects.values("actor_id")
        return list(User.objects.filter(pk__in=authors).order_by("username").values_list("pk", "username"))

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(actor_id=int(value))


class GroupFilter(admin.SimpleListFilter):
    title = "group"
    parameter_name = "group"

    def lookups(self, request, model_admin):
        return list(Group.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        group = Group.objects.filter(pk=int(value)).first() if value.isdigit() else None
        return items_of_group(queryset, group=group) if group else queryset.none()


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=SupervisionDecision.Outcome.choices)
    escalated_to = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, to_field_name="username", help_text="Escalations only."
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=4000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["escalated_to"].queryset = officers()


class SupervisionDecisionInline(admin.TabularInline):
    model = SupervisionDecision
    fields = ("decided_at", "decided_by", "outcome", "escalated_to", "comment")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SupervisionItem)
class SupervisionItemAdmin(ReadOnlyAdmin):
    list_display = ("flagged_at", "occurred_at", "author", "where", "reason", "risk", "terms", "status", "context")
    list_filter = (
        StateFilter,
        EscalatedToMeFilter,
        "lexicon",
        "risk",
        PersonFilter,
        GroupFilter,
        ("occurred_at", admin.DateFieldListFilter),
        "kind",
    )
    date_hierarchy = "occurred_at"
    actions = ("decide_selected",)
    inlines = (SupervisionDecisionInline,)
    fields = ("flagged_at", "occurred_at", "author", "where", "reason", "risk", "terms", "text", "status", "context")
    readonly_fields = fields
    change_form_template = "admin/archive/supervisionitem/change_form.html"

    def get_queryset(self, request: HttpRequest):
        from archive.supervision import supervision_queue

        authors = User.objects.filter(pk=OuterRef("actor_id")).values("username")[:1]
        rooms = Conversation.objects.filter(pk=OuterRef("conversation_id")).values("name")[:1]
        return supervision_queue().annotate(author_name=Subquery(authors), room_name=Subquery(rooms))

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not request.user.has_perm("archive.add_supervisiondecision"):
            actions.pop("decide_selected", None)
        return actions

    def get_urls(self):
        return [
            path("decide/", self.admin_site.admin_view(self.decide_view), name="archive_supervisionitem_decide"),
            *super().get_urls(),
        ]

    @admin.display(description="author")
    def author(self, item: SupervisionItem) -> str:
        return item.author_name or (f"user {item.actor_id}" if item.actor_id else "—")

    @admin.display(description="where")
    def where(self, item: SupervisionItem) -> str:
        return f"#{item.room_name}" if item.room_name else "direct chat"

    @admin.display(description="why")
    def reason(self, item: SupervisionItem) -> str:
        return f"lexicon {item.lexicon.name}" if item.lexicon_id else "random sample"

    @admin.display(description="matched")
    def terms(self, item: SupervisionItem) -> str:
        return ", ".join(item_matched_terms(item)) or "—"

    @admin.display(description="state")
    def status(self, item: SupervisionItem) -> str:
        if item.state == OPEN and item.flagged_at < supervision_overdue_since():
            return format_html('<strong class="overdue">{}</strong>', "overdue")
        return dict(SupervisionDecision.Outcome.choices).get(item.state, item.state)

    @admin.display(description="in context")
    def context(self, item: SupervisionItem) -> str:
        day = timezone.localdate(item.occurred_at).isoformat()
        query = urlencode({"conversations": item.conversation_id, "since": day, "until": day})
        return format_html(
            '<a href="{}?{}">the conversation that day</a>', reverse("admin:archive_archiveentry_review"), query
        )

    @admin.display(description="text")
    def text(self, item: SupervisionItem) -> str:
        row = ArchiveEntry.objects.filter(pk=item.entry_id).values_list(*FIELDS).first()
        if row is None:
            return "(the entry was purged by retention)"
        try:
            entry = open_entry(row)
        except (DecryptionError, ValueError, KeyError):
            return "(the entry does not open: run verify_archive)"
        shown = supervised_text(entry.event_type, entry.content) or ""
        return format_html('<div style="white-space: pre-wrap">{}</div>', shown)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if response.status_code == 200 and hasattr(response, "context_data"):  # the list shows matched terms
            filters = dict(request.GET.items())
            archive_access_record(user=request.user, action="supervision_queue", details={"filters": filters})
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "decision_form": DecisionForm()}
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:  # shown: that someone read the flagged message is recorded
            item = response.context_data["original"]
            archive_access_record(user=request.user, action="supervision_item_view", target=item, details={})
        return response

    @admin.action(description="Decide on the selected items…")
    def decide_selected(self, request: HttpRequest, queryset) -> HttpResponse:
        return self._decide_page(request, list(queryset.order_by("pk")), DecisionForm())

    def decide_view(self, request: HttpRequest) -> HttpResponse:
        """Record one decision on each chosen item (one or many), then back to the queue."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("archive.add_supervisiondecision"):
            raise PermissionDenied
        ids = [int(value) for value in request.POST.getlist("items") if value.isascii() and value.isdigit()]
        items = list(SupervisionItem.objects.filter(pk__in=ids).order_by("pk"))
        form = DecisionForm(request.POST)
        if form.is_valid():
            try:
                decisions = supervision_decide(
                    items=items,
                    by=request.user,
                    outcome=form.cleaned_data["outcome"],
                    comment=form.cleaned_data["comment"],
                    escalated_to=form.cleaned_data["escalated_to"],
                )
            except SupervisionInvalid as refused:
                form.add_error(None, refused.message)
            else:
                outcome = dict(SupervisionDecision.Outcome.choices)[form.cleaned_data["outcome"]]
                self.message_user(request, f"{len(decisions)} item(s) marked {outcome.lower()}.", messages.SUCCESS)
                return redirect("admin:archive_supervisionitem_changelist")
        return self._decide_page(request, items, form)

    def _decide_page(self, request: HttpRequest, items: list[SupervisionItem], form: DecisionForm) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Decide on supervision items",
            "items": items,
            "form": form,
        }
        return TemplateResponse(request, "admin/archive/supervisionitem/decide.html", context)


# ---- decisions: the evidence --------------------------------------------------------------------------------


@admin.register(SupervisionDecision)
class SupervisionDecisionAdmin(ReadOnlyAdmin):
    list_display = ("decided_at", "decided_by", "outcome", "escalated_to", "item_link", "comment")
    list_filter = ("outcome", ("decided_at", admin.DateFieldListFilter), "item__lexicon", "item__risk")
    list_select_related = ("decided_by", "escalated_to", "item")
    date_hierarchy = "decided_at"
    change_list_template = "admin/archive/supervisiondecision/change_list.html"

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/", export, name="archive_supervisiondecision_export"), *super().get_urls()]

    @admin.display(description="item")
    def item_link(self, decision: SupervisionDecision) -> str:
        url = reverse("admin:archive_supervisionitem_change", args=[decision.item_id])
        return format_html('<a href="{}">item {}</a>', url, decision.item_id)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The decisions the list shows (its filters apply), as CSV evidence of supervision. Audit-logged."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            decisions = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:  # as the list itself answers a filter it does not know
            messages.error(request, "Those filters do not apply to decisions: nothing was exported.")
            return redirect(f"{reverse('admin:archive_supervisiondecision_changelist')}?{ERROR_FLAG}=1")
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it) Years of decisions: on disk.
        out = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        count = supervision_decisions_csv(out=out, decisions=decisions)
        out.flush()
        out.detach()
        filters = dict(request.GET.items())
        archive_access_record(
            user=request.user, action="supervision_export", details={"filters": filters, "decisions": count}
        )
        spool.seek(0)
        name = f"parley-supervision-{timezone.now():%Y%m%d-%H%M%S}.csv"
        return FileResponse(spool, as_attachment=True, filename=name, content_type="text/csv")
