from django.contrib.auth.models import AbstractUser, Group
from django.db import models


class PresenceChoice(models.TextChoices):
    """What a user chose to show. AUTO follows their tabs: available when one is active, away when all idle."""

    AUTO = "auto"
    BUSY = "busy"  # do not disturb: no desktop notifications
    AWAY = "away"
    INVISIBLE = "invisible"  # appear offline while connected


class User(AbstractUser):
    """A Parley account. Custom from the first migration so profile fields can grow without a model swap."""

    display_name = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    status_message = models.CharField(max_length=140, blank=True)
    presence_choice = models.CharField(max_length=10, choices=PresenceChoice.choices, default=PresenceChoice.AUTO)
    # When the user was last seen online (their last socket closed or expired); shown for offline users.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # A 256 px WebP made by accounts.services.avatar_set (resized, metadata stripped), sealed on disk.
    avatar = models.FileField(upload_to="avatars/", blank=True)
    # IT can require two-factor sign-in of one person; groups can require it of their members (GroupSignInPolicy).
    two_factor_required = models.BooleanField(
        "require two-factor sign-in",
        default=False,
        help_text="Members of IT Admins and Compliance Officers, and superusers, must use it whatever this says.",
    )

    def __str__(self) -> str:
        return self.username

    @property
    def name_to_show(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class ContactGroup(models.Model):
    """One of a user's own buddy-list groups ("Team", "Favourites")."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contact_groups")
    name = models.CharField(max_length=60)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="contact_group_unique")]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.name}"


class Contact(models.Model):
    """`person` is on `owner`'s buddy list, in one of the owner's groups. Owners watch their contacts' presence."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey(User, on_delete=models.CASCADE, related_name="contact_of")
    group = models.ForeignKey(ContactGroup, on_delete=models.CASCADE, related_name="contacts")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "person"], name="contact_unique"),
            models.CheckConstraint(condition=~models.Q(owner=models.F("person")), name="contact_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} on {self.owner_id}'s list"


class ApiToken(models.Model):
    """A per-user token for bots and scripts (`Authorization: Bearer <token>`). Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class GroupSignInPolicy(models.Model):
    """How members of a group must sign in. IT Admins and Compliance Officers always need two factors."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="sign_in_policy")
    two_factor_required = models.BooleanField("require two-factor sign-in", default=False)

    class Meta:
        verbose_name = "sign-in policy"
        verbose_name_plural = "sign-in policy"

    def __str__(self) -> str:
        return f"Sign-in policy of {self.group}"


class SignIn(models.Model):
    """One sign-in: when, from where, with what, and the session it opened (so it can be signed out)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_ins")
    session_key = models.CharField(max_length=40, db_index=True)
    signed_in_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    second_factor_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # "signed_out", "ended_by_user", "password_changed", "signed_out_by_it", "deactivated"
    end_reason = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-signed_in_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="sign_in_user_open")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.signed_in_at:%Y-%m-%d %H:%M} from {self.ip_address or 'unknown'}"
