"""The e-mail digest: direct messages and @mentions still unread PARLEY_DIGEST_AFTER_MINUTES after they
arrived, mailed to people who did not opt out (docs/client.md). Sent by `manage.py send_digests`.

Each message is considered for one digest only: a person's `digest_covered_until` moves forward with every
run, so the next digest is about what arrived since. What a digest says: how many messages, from whom; the
words only when the company allows previews (PARLEY_NOTIFICATION_PREVIEWS), because mail leaves the company.
Room names stay out too (a room's name can say as much as a message).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import digest_unsubscribe_token
from messenger.models import Conversation, Message
from messenger.push import message_preview

logger = logging.getLogger(__name__)

PREVIEWS_PER_SENDER = 3
# How far back a digest looks: a person's first digest (or the first after opting in again, or after the job
# was stopped) is about the last day, not about every unread message they ever had.
DIGEST_LOOKBACK = timedelta(days=1)


@dataclass
class Missed:
    """What one person missed from one sender: direct messages and mentions, oldest first."""

    sender: User
    direct: list[Message] = field(default_factory=list)
    mentions: list[Message] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.direct) + len(self.mentions)


@dataclass
class DigestRun:
    sent: int = 0
    failed: int = 0


def digests_enabled() -> bool:
    """Digests need a quiet period and, in production, an SMTP server (EMAIL_HOST)."""
    return settings.PARLEY_DIGEST_AFTER_MINUTES > 0 and bool(settings.EMAIL_HOST or not settings.IS_PRODUCTION)


def missed_messages(*, until: datetime) -> dict[int, list[Message]]:
    """recipient id -> the direct messages (of chats they did not mute) and mentions of them that they have not
    read, from others, that arrived after their last digest (and within DIGEST_LOOKBACK) and up to `until`.
    One query for everyone: each row is a message joined with one membership of a person who wants digests."""
    since = until - DIGEST_LOOKBACK
    recipient = "conversation__memberships__user"
    # Every condition on the membership and its user sits in this one filter() call, so all of them are about
    # the same joined membership row (Django joins a multi-valued relation once per filter() call).
    rows = (
        Message.objects.filter(
            Q(conversation__kind=Conversation.Kind.DIRECT, conversation__memberships__is_muted=False)
            | Q(mentions__user=F(recipient)),
            ~Q(sender=F(recipient)),
            # Starts from the memberships with anything unread, then reads their messages by (conversation, seq)
            # through the unique index: no scan of the message table by date.
            conversation__last_seq__gt=F("conversation__memberships__last_read_seq"),
            seq__gt=F("conversation__memberships__last_read_seq"),
            created_at__lte=until,
            created_at__gt=Greatest(Coalesce(f"{recipient}__digest_covered_until", Value(since)), Value(since)),
            deleted_at__isnull=True,
            **{f"{recipient}__email_digest": True, f"{recipient}__is_active": True, f"{recipient}__email__gt": ""},
        )
        .annotate(recipient_id=F(recipient))
        .select_related("sender", "conversation")
        .order_by("created_at", "pk")
        .distinct()
    )
    missed: dict[int, list[Message]] = defaultdict(list)
    for message in rows:
        missed[message.recipient_id].append(message)
    return missed


def digests_send(*, now: datetime | None = None) -> DigestRun:
    """Mail every person who missed something their digest, and move their covered-until mark to the end of
    the quiet period: one UPDATE for those mailed (a person whose mail failed keeps theirs, to be tried again
    next run; nobody else's row is written)."""
    run = DigestRun()
    if not digests_enabled():
        return run
    until = (now or timezone.now()) - timedelta(minutes=settings.PARLEY_DIGEST_AFTER_MINUTES)
    missed = missed_messages(until=until)
    people = User.objects.in_bulk(list(missed))
    mailed_ids = []
    with get_connection() as connection:
        for user_id, messages in missed.items():
            mail = digest_mail(people[user_id], messages)
            try:
                connection.send_messages([mail])
            except Exception as error:  # smtplib and socket errors alike: one person's mail, not the run
                logger.warning("A digest e-mail could not be sent (%s)", type(error).__name__)
                run.failed += 1
            else:
                mailed_ids.append(user_id)
                run.sent += 1
    User.objects.filter(pk__in=mailed_ids).update(digest_covered_until=until)
    return run


def _by_sender(user: User, messages: list[Message]) -> list[Missed]:
    senders: dict[int, Missed] = {}
    for message in messages:
        entry = senders.setdefault(message.sender_id, Missed(sender=message.sender))
        is_direct = message.conversation.kind == Conversation.Kind.DIRECT
        (entry.direct if is_direct else entry.mentions).append(message)
    return sorted(senders.values(), key=lambda entry: (-entry.count, entry.sender.name_to_show))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def digest_mail(user: User, messages: list[Message]) -> EmailMultiAlternatives:
    """The digest for one person: a subject with the count, a line per sender, links to Parley and to
    unsubscribe (also as List-Unsubscribe, so mail apps offer one-click unsubscribing, RFC 8058)."""
    site = settings.PARLEY_SITE_URL
    unsubscribe = site + reverse("digest_unsubscribe", args=[digest_unsubscribe_token(user=user)])
    lines = [f"Hello {user.name_to_show},", "", "While you were away:", ""]
    for entry in _by_sender(user, messages):
        parts = []
        if entry.direct:
            parts.append(_plural(len(entry.direct), "direct message"))
        if entry.mentions:
            parts.append(_plural(len(entry.mentions), "mention"))
        lines.append(f"- {entry.sender.name_to_show}: {' and '.join(parts)}")
        if settings.PARLEY_NOTIFICATION_PREVIEWS:
            shown = (entry.direct + entry.mentions)[:PREVIEWS_PER_SENDER]
            lines.extend(f"    > {message_preview(message)}" for message in shown)
    lines += [
        "",
        f"Open Parley: {site}/",
        "",
        "--",
        "You get this e-mail because these messages were still unread "
        f"{settings.PARLEY_DIGEST_AFTER_MINUTES} minutes after they arrived.",
        f"Stop these e-mails: {unsubscribe}",
        f"or on your account page: {site}{reverse('account_security')}",
    ]
    count = len(messages)
    return EmailMultiAlternatives(
        subject=f"{_plural(count, 'unread message')} in Parley",
        body="\n".join(lines) + "\n",
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
