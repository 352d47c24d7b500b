"""Conversations (direct chats and rooms), memberships, messages and what hangs off them. Data only."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.fields import EncryptedTextField

# The limits every door (services, the API's schemas, the page's inputs through messenger.views) takes from here.
MAX_BODY_LENGTH = 10_000
MAX_ROOM_NAME_LENGTH = 80
MAX_TOPIC_LENGTH = 250
MAX_CLIENT_ID_LENGTH = 64
MAX_EMOJI_LENGTH = 32


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        ROOM = "room"

    # Binds the sealed topic to its row (core.fields), so a ciphertext copied into another room does not open.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # A direct chat is found again by its pair: "<smaller user id>:<larger user id>". Rooms have none.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True)
    # The name stays clear: the room directory searches and orders by it, and it is unique among rooms.
    name = models.CharField(max_length=MAX_ROOM_NAME_LENGTH, blank=True)
    # Sealed like message text: a topic says what a room is about. Nothing filters or orders on it in SQL.
    topic = EncryptedTextField(blank=True, default="")
    is_public = models.BooleanField(default=False)
    # A default room (Slack's and Mattermost's default channel, #general): every new active account joins it
    # (messenger.signals). Public only: anyone may join a public room anyway, so the flag grants nobody, not even
    # an account IT creates, a history they could not open already.
    is_default = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The newest message's seq. Sending bumps it with one UPDATE whose row lock orders concurrent senders.
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False, is_public=False)
                | Q(kind="room", direct_key__isnull=True),
                name="conversation_kind_shape",
            ),
            models.UniqueConstraint(fields=["name"], condition=Q(kind="room"), name="room_name_unique"),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(kind="room", is_public=True), name="default_room_is_public"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}: {self.name}" if self.name else f"{self.kind} {self.pk}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MODERATOR = "moderator"
        MEMBER = "member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_seq = models.BigIntegerField(default=0)
    is_muted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "conversation"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id} ({self.role})"


class Attachment(models.Model):
    """A file shared in a conversation: scanned by ClamAV first, sealed on disk (core.storage).

    It lives as long as the archive keeps its "file shared" entry (`archive_position`), not as long as the chat
    message: live-chat retention may drop the message while the archive still holds the file.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="attachments")
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to="files/%Y/%m/")
    # Sealed like message text ("layoffs-Q3-names.xlsx" says as much as a message); at most 255 characters.
    name = EncryptedTextField()
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    scanned = models.BooleanField(default=True)  # False only when shared with scanning off (development)
    archive_position = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:  # never the name: str() ends up in logs and the audit log's object_repr
        return f"file {self.pk} in conversation {self.conversation_id}"


class Message(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    # Chosen by the client per message; a resend with the same id returns the stored message (idempotency).
    client_id = models.CharField(max_length=MAX_CLIENT_ID_LENGTH)
    body = EncryptedTextField()
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Threads (Slack's and Mattermost's): a reply in a thread names the thread's first message; threads are one
    # level deep. It shows in the thread, and in the conversation too only when sent with "also send to the room".
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="thread_replies"
    )
    also_in_room = models.BooleanField(default=False)
    # On a thread's first message: how many replies it has and when the last came (one UPDATE per reply).
    thread_reply_count = models.PositiveIntegerField(default=0)
    thread_last_reply_at = models.DateTimeField(null=True, blank=True)
    attachment = models.OneToOneField(
        Attachment, null=True, blank=True, on_delete=models.PROTECT, related_name="message"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(fields=["sender", "client_id"], name="message_client_id_unique"),
        ]
        indexes = [models.Index(fields=["thread_root", "seq"], name="message_thread_replies")]

    def __str__(self) -> str:  # never the body: str() ends up in logs
        return f"message {self.pk} (#{self.seq} in conversation {self.conversation_id})"


class MessageVersion(models.Model):
    """The text a message had before an edit or delete: what was said is never destroyed."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="versions")
    body = EncryptedTextField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"earlier version of message {self.message_id}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=MAX_EMOJI_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_unique")]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class Mention(models.Model):
    """An @username in a message that named a member (or, in a room, @channel or @here reaching them); unread
    mentions are counted apart from other unread."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="mention_unique")]
        indexes = [models.Index(fields=["user", "message"])]

    def __str__(self) -> str:
        return f"mention of {self.user_id} in {self.message_id}"
