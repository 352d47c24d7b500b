"""Rooms and memberships for IT. Never messages: no admin page here shows what was said.

Every change goes through the messenger's do_* services, so it is archived and announced to the room exactly as
the same change made in the app; the admin's permissions (IT Admins: change rooms and memberships) are the check,
plus one rule: only a superuser makes themselves or an IT Admin a member here (admin_membership_check), since a
membership opens a room's whole history.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from accounts import presence
from accounts.errors import SuperuserOnly
from accounts.services import admin_membership_check
from core.errors import ParleyError
from messenger import selectors, services
from messenger.models import MAX_TOPIC_LENGTH, Conversation, Membership


class RoomForm(forms.ModelForm):
    """The topic is sealed (not a form field of its own): shown opened here, saved through do_room_update."""

    topic = forms.CharField(max_length=MAX_TOPIC_LENGTH, required=False)

    class Meta:
        model = Conversation
        exclude = ("topic",)  # noqa: DJ006 (the admin names the fields; this keeps the sealed one off the model form)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["topic"].initial = self.instance.topic

    def clean_is_default(self) -> bool:
        is_default = self.cleaned_data.get("is_default", False)
        if is_default and not self.instance.is_public:
            raise forms.ValidationError("Only a public room can be a default room (new accounts join it uninvited).")
        return is_default


@admin.register(Conversation)
class RoomAdmin(admin.ModelAdmin):
    """Rooms (direct chats are people's own and are not listed): rename, change the topic, make a public room a
    default room (every new account joins it), archive."""

    form = RoomForm
    change_list_template = "admin/messenger/conversation/change_list.html"  # adds the link to today's numbers
    list_display = ("name", "is_public", "is_default", "is_archived", "member_count", "created_by", "created_at")
    list_filter = ("is_public", "is_default", "is_archived")
    search_fields = ("name",)  # not the topic: it is sealed, and SQL cannot search it
    fields = ("name", "topic", "is_public", "is_default", "is_archived", "created_by", "created_at", "members")
    readonly_fields = ("is_public", "is_archived", "created_by", "created_at", "members")
    actions = ("archive_rooms",)

    def get_queryset(self, request):
        rooms = super().get_queryset(request).filter(kind=Conversation.Kind.ROOM)
        return rooms.select_related("created_by").annotate(member_count=Count("memberships"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, room: Conversation) -> int:
        return room.member_count

    @admin.display(description="members (change them under Memberships, where each change is archived)")
    def members(self, room: Conversation) -> str:
        people = room.memberships.select_related("user").order_by("user__username")
        return ", ".join(f"{m.user.get_username()} ({m.role})" for m in people) or "nobody"

    def has_add_permission(self, request) -> bool:
        return False  # rooms are created in the app, by the people who will use them

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a room's history is a business record: archive it instead

    def save_model(self, request, obj: Conversation, form, change: bool) -> None:
        saved = Conversation.objects.get(pk=obj.pk)  # the form already set the new values on obj
        try:
            services.do_room_update(
                actor=request.user, room=saved, name=obj.name, topic=form.cleaned_data.get("topic", saved.topic)
            )
            services.do_room_default_set(actor=request.user, room=saved, is_default=obj.is_default)
        except ParleyError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)

    def get_urls(self):
        view = self.admin_site.admin_view(self.today_view)
        return [path("today/", view, name="messenger_conversation_today"), *super().get_urls()]

    def today_view(self, request: HttpRequest) -> HttpResponse:
        """Today's numbers for IT: people online now, messages since midnight (server time zone), busiest rooms
        by message count. Counts and room names only, never what was said."""
        if not request.user.has_perm("messenger.view_conversation"):  # IT Admins and superusers
            raise PermissionDenied
        since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Today's numbers",
            "since": since,
            "online": async_to_sync(presence.online_count)(),
            **selectors.traffic_since(since=since),
        }
        return TemplateResponse(request, "admin/messenger/conversation/today.html", context)

    @admin.action(description="Archive the selected rooms (read-only from now on)", permissions=["change"])
    def archive_rooms(self, request, queryset) -> None:
        for room in queryset:
            services.do_room_archive(actor=request.user, room=room)
        self.message_user(request, "Archived; their history stays and nobody can post.")


class MembershipForm(forms.ModelForm):
    # The admin using the form, set by MembershipAdmin.get_form: whom they may add depends on who they are.
    actor = None

    class Meta:
        model = Membership
        fields = ("conversation", "user", "role")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "conversation" in self.fields:
            self.fields["conversation"].queryset = Conversation.objects.filter(
                kind=Conversation.Kind.ROOM, is_archived=False
            )

    def clean(self):
        cleaned = super().clean()
        person = cleaned.get("user")
        if person is not None:
            try:
                admin_membership_check(actor=self.actor, person=person)
            except SuperuserOnly as refusal:
                raise forms.ValidationError(refusal.message) from None
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Add people to rooms, remove them, or change their role (say, a new owner when the old one left)."""

    form = MembershipForm
    list_display = ("conversation", "user", "role", "joined_at")
    list_filter = ("role",)
    search_fields = ("conversation__name", "user__username")
    list_select_related = ("conversation", "user")
    autocomplete_fields = ("user",)
    actions = ("remove_members",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(conversation__kind=Conversation.Kind.ROOM)

    def get_readonly_fields(self, request, obj=None):
        return ("conversation", "user") if obj else ()

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # removal must be archived: the action below does it
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        try:
            stored = Membership.objects.get(pk=obj.pk) if change else None
            if stored is None or stored.user_id != obj.user_id:
                # Checked here too, not only in the form: no admin path puts IT in a room (admin_membership_check).
                admin_membership_check(actor=request.user, person=obj.user)
            if change:
                services.do_member_role_set(actor=request.user, membership=stored, role=obj.role)
                return
            services.do_members_add(
                actor=request.user, room=obj.conversation, usernames=[obj.user.get_username()], via="admin"
            )
            added = Membership.objects.get(conversation=obj.conversation, user=obj.user)
            services.do_member_role_set(actor=request.user, membership=added, role=obj.role)
            obj.pk = added.pk
        except ParleyError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)

    @admin.action(description="Remove the selected people from their rooms", permissions=["change"])
    def remove_members(self, request, queryset) -> None:
        for membership in queryset.select_related("user"):
            services.do_member_remove(actor=request.user, membership=membership)
        self.message_user(request, "Removed; each removal is in the archive.")
