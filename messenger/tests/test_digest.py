"""messenger/digest.py and `manage.py send_digests`: missed direct messages and mentions, mailed through
Django's SMTP backend to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from core.testing import free_port
from messenger import digest
from messenger.models import Message
from messenger.services import direct_open, membership_mute, read_mark
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


class Mailbox:
    """An aiosmtpd handler keeping every message it is given, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def mailbox(settings):
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.PARLEY_DIGEST_AFTER_MINUTES = 30
    settings.PARLEY_NOTIFICATION_PREVIEWS = False
    settings.PARLEY_SITE_URL = "https://chat.example.com"
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def alice():
    return UserFactory(username="alice", display_name="Alice Archer")


@pytest.fixture
def bob():
    return UserFactory(username="bob", display_name="Bob Bauer")


def arrived_minutes_ago(message: Message, minutes: int) -> Message:
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    return message


def text_of(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def test_unread_direct_messages_and_mentions_past_the_quiet_period_are_mailed_by_count_and_sender(alice, bob, mailbox):
    carol = UserFactory(username="carol", display_name="Carol Chen")
    chat = direct_open(user=alice, other_username="bob")
    room = room_with(carol, bob, alice)
    for body in ("The merger closes on Friday", "Call me"):
        arrived_minutes_ago(send(alice, chat, body), 45)
    arrived_minutes_ago(send(carol, room, "@bob the numbers for the merger?"), 40)
    arrived_minutes_ago(send(carol, room, "no mention here"), 40)
    send(alice, chat, "just now: still in the quiet period")

    run = digest.digests_send()

    assert (run.sent, run.failed) == (1, 0)
    [mail] = mailbox.messages
    assert mailbox.recipients == [["bob@parley.test"]]
    assert mail["Subject"] == "3 unread messages in Parley"
    body = text_of(mail)
    assert "- Alice Archer: 2 direct messages" in body
    assert "- Carol Chen: 1 mention" in body
    assert "merger" not in body and "Call me" not in body and "quiet period" not in body
    assert room.name not in body
    assert "https://chat.example.com/" in body
    assert mail["List-Unsubscribe"].strip().startswith("<https://chat.example.com/accounts/email-digest/unsubscribe/")


def test_with_previews_allowed_the_digest_quotes_the_start_of_each_message(alice, bob, mailbox, settings):
    settings.PARLEY_NOTIFICATION_PREVIEWS = True
    chat = direct_open(user=alice, other_username="bob")
    arrived_minutes_ago(send(alice, chat, "Lunch   at\nnoon?"), 45)

    digest.digests_send()

    assert "    > Lunch at noon?" in text_of(mailbox.messages[0])


def test_each_message_is_mailed_about_once_and_what_was_read_or_muted_or_sent_by_oneself_never(alice, bob, mailbox):
    carol = UserFactory(username="carol")
    read = direct_open(user=alice, other_username="bob")
    muted = direct_open(user=carol, other_username="bob")
    membership_mute(user=bob, conversation_id=muted.pk, is_muted=True)
    seen = arrived_minutes_ago(send(alice, read, "seen it"), 45)
    read_mark(user=bob, conversation_id=read.pk, seq=seen.seq)
    arrived_minutes_ago(send(carol, muted, "muted chat"), 45)
    arrived_minutes_ago(send(bob, read, "bob's own"), 45)  # unread by alice: she gets that one
    assert digest.digests_send().sent == 1
    assert mailbox.recipients == [["alice@parley.test"]]

    arrived_minutes_ago(send(carol, room_with(carol, alice), "@alice news"), 25)  # after the first digest's end
    an_hour_later = timezone.now() + timedelta(hours=1)
    second = digest.digests_send(now=an_hour_later)
    third = digest.digests_send(now=an_hour_later)

    assert (second.sent, third.sent) == (1, 0)
    assert mailbox.recipients == [["alice@parley.test"], ["alice@parley.test"]]
    assert mailbox.messages[1]["Subject"] == "1 unread message in Parley"
    # the one new mention, and nothing of the first digest again
    assert "1 mention" in text_of(mailbox.messages[1]) and "direct" not in text_of(mailbox.messages[1])


def test_people_who_opted_out_or_have_no_address_get_nothing(alice, bob, mailbox):
    UserFactory(username="carol", email="")
    bob.email_digest = False
    bob.save()
    for person in ("bob", "carol"):
        arrived_minutes_ago(send(alice, direct_open(user=alice, other_username=person), "hello"), 45)

    assert digest.digests_send().sent == 0
    assert mailbox.messages == []


def test_a_mail_server_that_cannot_be_reached_leaves_the_messages_for_the_next_run(alice, bob, mailbox, settings):
    arrived_minutes_ago(send(alice, direct_open(user=alice, other_username="bob"), "hello"), 45)
    working_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # nobody listens there

    with pytest.raises(OSError):
        digest.digests_send()
    settings.EMAIL_PORT = working_port
    retried = digest.digests_send()

    assert retried.sent == 1
    assert "1 direct message" in text_of(mailbox.messages[0])


def test_the_unsubscribe_link_in_a_digest_turns_it_off_without_signing_in(alice, bob, mailbox):
    arrived_minutes_ago(send(alice, direct_open(user=alice, other_username="bob"), "hello"), 45)
    digest.digests_send()
    link = mailbox.messages[0]["List-Unsubscribe"].strip().strip("<>").removeprefix("https://chat.example.com")
    browser = Client(enforce_csrf_checks=True)

    asked = browser.get(link)
    assert User.objects.get(pk=bob.pk).email_digest is True  # opening the link (a mail scanner) changes nothing
    done = browser.post(link)  # the page's button, or a mail app's one-click unsubscribe (RFC 8058)
    forged = browser.post(link.replace("unsubscribe/", "unsubscribe/x"))

    assert asked.status_code == 200 and b"Unsubscribe" in asked.content
    assert done.status_code == 200 and b"no more e-mails" in done.content
    assert User.objects.get(pk=bob.pk).email_digest is False
    assert forged.status_code == 400


def test_the_command_sends_once_and_says_so(alice, bob, mailbox, capsys):
    arrived_minutes_ago(send(alice, direct_open(user=alice, other_username="bob"), "hello"), 45)

    call_command("send_digests")

    assert "digests: 1 sent, 0 failed" in capsys.readouterr().out
    assert len(mailbox.messages) == 1


def test_digests_are_off_with_no_quiet_period_and_in_production_without_a_mail_server(settings):
    settings.PARLEY_DIGEST_AFTER_MINUTES = 0
    assert not digest.digests_enabled()
    settings.PARLEY_DIGEST_AFTER_MINUTES, settings.IS_PRODUCTION, settings.EMAIL_HOST = 30, True, ""
    assert not digest.digests_enabled()
    settings.EMAIL_HOST = "smtp.example.com"
    assert digest.digests_enabled()


def test_a_first_digest_is_about_the_last_day_not_every_unread_message_ever(alice, bob, mailbox):
    chat = direct_open(user=alice, other_username="bob")
    arrived_minutes_ago(send(alice, chat, "last week"), 7 * 24 * 60)
    arrived_minutes_ago(send(alice, chat, "this morning"), 45)

    digest.digests_send()

    assert "1 direct message" in text_of(mailbox.messages[0])
