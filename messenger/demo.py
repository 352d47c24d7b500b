"""The demo company `make run` seeds on a fresh machine: its people (accounts.demo), five rooms with topics
(#general the default room everyone is in), direct chats, and a working week of conversation with a picture, a
file, replies, reactions, a mention, an edit and a deletion (messenger.demo_week), so that search, the archive
desk and the buddy list have something to show at the first sign-in.

Everything goes through the services (room_create, direct_open, message_send, file_share, reaction_add,
message_edit, message_delete, read_mark, contact_add), so the archive holds every event and verify_archive
finds it intact.

The week is the last working week, Monday to Friday, before today, stamped with those days, honestly: while it
plays, django.utils.timezone.now (which the services, the models' auto_now_add fields and archive_record all
read) returns the moment of the line being played, a microsecond later at each call. Nothing is rewritten
afterwards: each message, edit, reaction and archive entry is written once, with its time, and the entry's hash
covers that time as written, so the archive and the messenger agree and the chains verify. The clock only goes
forward and never reaches the real now, so everything said after the seed comes later. The audit log
(django-auditlog binds its own clock) records when the seed really ran.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts.demo import DemoLogins, demo_people_seed
from accounts.models import User
from core.antivirus import ScannerUnavailable
from messenger import services
from messenger.demo_week import DEFAULT_ROOM, EVERYONE, ROOMS, WEEK, Line
from messenger.files import file_share
from messenger.models import Conversation, Membership, Message

# A line every few minutes within a burst; what follows a line (reactions, an edit, a deletion) comes within
# the next minute and a half, before the next line.
LINE_GAP = timedelta(minutes=3)
FOLLOW_GAP = timedelta(seconds=10)


@dataclass(frozen=True)
class DemoCompany:
    logins: DemoLogins
    messages: int
    # What could not be done, for the operator: a file not shared because the virus scanner did not answer.
    skipped: list[str] = field(default_factory=list)


def demo_company_seed(*, password: str | None = None, today: date | None = None) -> DemoCompany:
    """Create the demo company in one transaction (all of it or nothing), its week ending before `today`."""
    days = _last_working_week(today or timezone.localdate())
    clock = _Clock(before=timezone.now())
    # The clock is put back before the transaction commits: what runs at commit (announcements, new accounts
    # joining #general, which they are in already) runs at the real time.
    with transaction.atomic(), _timezone_now(clock):
        clock.set(_local(days[0], "08:00"))
        logins = demo_people_seed(password=password, joined_at=clock.now())
        clock.set(_local(days[0], "08:30"))
        week = _Week(people={user.username: user for user in User.objects.filter(username__in=logins.usernames)})
        for index, (day, bursts) in enumerate(zip(days, WEEK, strict=True)):
            if index == len(WEEK) - 1:
                week.everyone_reads_everything()  # the last day stays unread: badges and a "new" line to open
            for moment, action in _timeline(day, bursts, week):
                clock.set(moment)
                action()
    return DemoCompany(logins=logins, messages=week.sent, skipped=week.skipped)


class _Week:
    """Plays the lines: finds or opens their conversations, remembers what was said for replies and reactions."""

    def __init__(self, *, people: dict[str, User]) -> None:
        self.people = people
        self.conversations: dict[str, Conversation] = {}
        self.said: dict[tuple[int, int, int], Message] = {}  # (day, burst, line) -> the message
        self.keys: dict[str, Message] = {}
        self.sent = 0
        self.skipped: list[str] = []
        for name, (creator, topic, is_public, members) in ROOMS.items():
            others = [username for username in people if username != creator] if members == EVERYONE else members
            self.conversations[f"#{name}"] = services.room_create(
                creator=people[creator], name=name, topic=topic, is_public=is_public, member_usernames=list(others)
            )
        services.do_room_default_set(
            actor=people["admin"], room=self.conversations[f"#{DEFAULT_ROOM}"], is_default=True
        )

    def conversation(self, name: str) -> Conversation:
        if name not in self.conversations:  # a direct chat opens when its first line is said
            first, second = name.split("+")
            self.conversations[name] = services.direct_open(user=self.people[first], other_username=second)
        return self.conversations[name]

    def say(self, spot: tuple[int, int, int], conversation_name: str, line: Line) -> None:
        sender, conversation = self.people[line.sender], self.conversation(conversation_name)
        self.sent += 1
        common = {"sender": sender, "conversation_id": conversation.pk, "client_id": f"demo-{self.sent}"}
        message = None
        if line.file:
            name, content_type, data = DEMO_FILES[line.file]()
            try:
                message = file_share(**common, name=name, content_type=content_type, data=data, body=line.text)
            except ScannerUnavailable as error:
                self.skipped.append(f"{name} was not shared in {conversation_name}, only its caption: {error}")
        if message is None:
            reply_to = self.keys[line.reply_to].pk if line.reply_to else None
            message = services.message_send(**common, body=line.typo or line.text, reply_to_id=reply_to)
        self.said[spot] = message
        if line.key:
            self.keys[line.key] = message

    def react(self, spot: tuple[int, int, int], username: str, emoji: str) -> None:
        services.reaction_add(user=self.people[username], message_id=self.said[spot].pk, emoji=emoji)

    def edit(self, spot: tuple[int, int, int], line: Line) -> None:
        services.message_edit(editor=self.people[line.sender], message_id=self.said[spot].pk, body=line.text)

    def delete(self, spot: tuple[int, int, int], line: Line) -> None:
        services.message_delete(editor=self.people[line.sender], message_id=self.said[spot].pk)

    def everyone_reads_everything(self) -> None:
        conversation_ids = [conversation.pk for conversation in self.conversations.values()]
        last_seqs = dict(Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", "last_seq"))
        readers = Membership.objects.filter(conversation_id__in=conversation_ids).values_list("conversation_id", "user")
        people_by_id = {person.pk: person for person in self.people.values()}
        for conversation_id, user_id in readers:
            services.read_mark(
                user=people_by_id[user_id], conversation_id=conversation_id, seq=last_seqs[conversation_id]
            )


def _timeline(day: date, bursts, week: _Week) -> list[tuple[datetime, Callable[[], None]]]:
    """The day's actions in time order: each burst's lines a few minutes apart, what follows a line after it."""
    actions = []
    for burst_index, burst in enumerate(bursts):
        start = _local(day, burst.at)
        for line_index, line in enumerate(burst.lines):
            spot = (day.toordinal(), burst_index, line_index)
            # A fixed wobble of up to a minute, so the times do not look machine-made (and stay the same).
            moment = start + line_index * LINE_GAP + timedelta(seconds=(line_index * 47 + burst_index * 13) % 60)
            actions.append((moment, partial(week.say, spot, burst.conversation, line)))
            follow = moment
            for emoji, usernames in line.reactions:
                for username in usernames.split():
                    follow += FOLLOW_GAP
                    actions.append((follow, partial(week.react, spot, username, emoji)))
            if line.typo:
                actions.append((follow + 3 * FOLLOW_GAP, partial(week.edit, spot, line)))
            if line.deleted:
                actions.append((follow + 4 * FOLLOW_GAP, partial(week.delete, spot, line)))
    return sorted(actions, key=lambda action: action[0])  # stable: a line before what follows it


def _last_working_week(today: date) -> list[date]:
    """Monday to Friday of the last working week that ended before today (the lines name their weekdays)."""
    friday = today - timedelta(days=(today.weekday() - 4) % 7 or 7)
    return [friday - timedelta(days=4 - offset) for offset in range(5)]


def _local(day: date, at: str) -> datetime:
    hour, minute = (int(part) for part in at.split(":"))
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


class _Clock:
    """What django.utils.timezone.now returns while the week plays: the moment set, a microsecond later at each
    call, so the several stamps of one action (a message, its archive entry) are in order."""

    def __init__(self, *, before: datetime) -> None:
        self._before = before
        self._moment: datetime | None = None
        self._ticks = 0

    def set(self, moment: datetime) -> None:
        if moment >= self._before or (self._moment is not None and moment < self._moment):
            raise ValueError(f"The demo clock goes forward and stays in the past; {moment} is not.")
        if moment != self._moment:
            self._moment, self._ticks = moment, 0

    def now(self) -> datetime:
        self._ticks += 1
        return self._moment + timedelta(microseconds=self._ticks)


@contextmanager
def _timezone_now(clock: _Clock) -> Iterator[None]:
    # The seed runs alone in its process (`manage.py seed_demo`) or in a test, never beside requests: nothing
    # else reads the clock meanwhile.
    real_now = timezone.now
    timezone.now = clock.now
    try:
        yield
    finally:
        timezone.now = real_now


def _pipeline_chart() -> tuple[str, str, bytes]:
    """A small bar chart of the sales pipeline, drawn here (Pillow is a dependency already, for avatars)."""
    stages = (("Lead", 14), ("Qualified", 9), ("Proposal", 6), ("Negotiation", 5), ("Won", 3))
    image = Image.new("RGB", (480, 270), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((20, 12), "Pipeline by stage (deals)", fill="#1f2933", font=font)
    for index, (stage, deals) in enumerate(stages):
        left, bottom = 30 + index * 90, 230
        draw.rectangle((left, bottom - deals * 12, left + 60, bottom), fill=("#3b82f6", "#10b981")[stage == "Won"])
        draw.text((left + 22, bottom - deals * 12 - 18), str(deals), fill="#1f2933", font=font)
        draw.text((left, bottom + 8), stage, fill="#52606d", font=font)
    picture = io.BytesIO()
    image.save(picture, format="PNG", optimize=True)
    return "pipeline-by-stage.png", "image/png", picture.getvalue()


def _forecast_file() -> tuple[str, str, bytes]:
    rows = (
        ("deal", "stage", "amount_eur", "probability", "expected_close"),
        ("Northwind", "negotiation", "1200000", "0.8", "this quarter"),
        ("Contoso", "proposal", "650000", "0.5", "this quarter"),
        ("Fabrikam", "qualified", "400000", "0.3", "next quarter"),
        ("Tailspin", "lead", "250000", "0.1", "next quarter"),
    )
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return "q3-forecast.csv", "text/csv", text.getvalue().encode()


DEMO_FILES: dict[str, Callable[[], tuple[str, str, bytes]]] = {
    "chart": _pipeline_chart,
    "forecast": _forecast_file,
}
