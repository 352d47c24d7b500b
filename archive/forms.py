"""What a compliance officer types to search the archive or ask for a transcript, checked."""

from __future__ import annotations

import re
from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts.models import User
from archive.models import ArchiveEntry
from archive.selectors import ArchiveSearch
from core.blind_index import QueryError, parse_query
from messenger.models import Conversation

SEPARATORS = re.compile(r"[\s,]+")
MAX_ID = 2**62  # larger numbers are no conversation's id, and more than the database's integers hold


class DateRangeForm(forms.Form):
    """`From` and `To` as whole days in the server's time zone, `To` included (as the search, the export and the
    transcript read them)."""

    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“From” is after “To”.")
        return cleaned

    def dates(self) -> tuple[datetime | None, datetime | None]:
        zone = timezone.get_current_timezone()
        since, until = self.cleaned_data["since"], self.cleaned_data["until"]
        return (
            datetime.combine(since, time.min, zone) if since else None,
            datetime.combine(until, time.max, zone) if until else None,
        )


class ArchiveSearchForm(DateRangeForm):
    people = forms.CharField(
        required=False, help_text="Usernames, separated by commas: what they wrote and what was said where they were."
    )
    conversations = forms.CharField(required=False, help_text="Room names or conversation ids, separated by commas.")
    words = forms.CharField(
        required=False,
        max_length=200,
        help_text='Whole words, any case, in messages, edits, file names: every word must occur; "a phrase" in '
        "order; OR between alternatives; NOT word (or -word) must not occur.",
    )

    def clean_words(self) -> str:
        words = self.cleaned_data["words"].strip()
        if words:
            try:
                parse_query(words)
            except QueryError as error:
                raise forms.ValidationError(str(error)) from None
        return words

    def clean_people(self) -> tuple[int, ...]:
        usernames = _tokens(self.cleaned_data["people"])
        found = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
        unknown = [name for name in usernames if name not in found]
        if unknown:
            raise forms.ValidationError(f"No user named {', '.join(unknown)}.")
        return tuple(found[name] for name in usernames)

    def clean_conversations(self) -> tuple[int, ...]:
        tokens = _tokens(self.cleaned_data["conversations"])
        numbers = [token for token in tokens if token.isascii() and token.isdigit()]
        ids = {int(token) for token in numbers if int(token) <= MAX_ID}
        names = [token.removeprefix("#") for token in tokens if token not in numbers]
        rooms = dict(Conversation.objects.filter(kind=Conversation.Kind.ROOM, name__in=names).values_list("name", "pk"))
        unknown = [name for name in names if name not in rooms]
        unknown += [token for token in numbers if int(token) > MAX_ID]
        existing = set(Conversation.objects.filter(pk__in=ids).values_list("pk", flat=True))
        unknown += [str(pk) for pk in sorted(ids - existing)]
        if unknown:
            raise forms.ValidationError(f"No conversation {', '.join(unknown)}.")
        return tuple(sorted(ids | set(rooms.values())))

    def search(self) -> ArchiveSearch:
        data = self.cleaned_data
        since, until = self.dates()
        return ArchiveSearch(
            people=data["people"],
            conversation_ids=data["conversations"],
            since=since,
            until=until,
            words=data["words"],
        )


class TranscriptForm(DateRangeForm):
    conversation = forms.IntegerField(min_value=1, max_value=MAX_ID)
    download = forms.BooleanField(required=False)

    field_order = ("conversation", "since", "until", "download")

    def clean_conversation(self) -> int:
        """A conversation that exists, or did (its archive outlives it)."""
        pk = self.cleaned_data["conversation"]
        if (
            not Conversation.objects.filter(pk=pk).exists()
            and not ArchiveEntry.objects.filter(conversation_id=pk).exists()
        ):
            raise forms.ValidationError(f"No conversation {pk}.")
        return pk


def _tokens(text: str) -> list[str]:
    return list(dict.fromkeys(token for token in SEPARATORS.split(text.strip()) if token))
