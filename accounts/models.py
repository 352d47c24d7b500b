import hashlib
import hmac
import time
import uuid
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from core.fields import EncryptedTextField


class PresenceChoice(models.TextChoices):
    """What a user chose to show. AUTO follows their tabs: available when one is active, away when all idle."""

    AUTO = "auto"
    BUSY = "busy"  # do not disturb: no desktop notifications
    AWAY = "away"
    INVISIBLE = "invisible"  # appear offline while connected


class DirectorySource(models.TextChoices):
    LDAP = "ldap", "LDAP / Active Directory"
    OIDC = "oidc", "OpenID Connect"
    SCIM = "scim", "SCIM provisioning"


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
    # The e-mail digest of missed direct messages and mentions (messenger.digest): on unless the person opts out.
    email_digest = models.BooleanField("e-mail digest of missed messages", default=True)
    # Messages up to this moment were considered for a digest already: each is mailed about at most once.
    digest_covered_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Accounts kept by the company directory (accounts.directory): where they come from and their id there (an
    # LDAP entry's DN or GUID, an OpenID Connect `sub`, a SCIM id). Empty for local accounts, which a directory
    # sync never deactivates (the break-glass administrator is one).
    directory_source = models.CharField(max_length=8, choices=DirectorySource.choices, blank=True, editable=False)
    directory_id = models.CharField(max_length=255, blank=True, editable=False)
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        help_text="From the directory.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                fields=["directory_source", "directory_id"],
                condition=~models.Q(directory_id=""),
                name="one_account_per_directory_entry",
            )
        ]

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

    @staticmethod
    def hash_of(token: str) -> str:
        """What is stored (and looked up) for a clear token."""
        return hashlib.sha256(token.encode()).hexdigest()


class ScimToken(models.Model):
    """A bearer token of the company's identity provider for SCIM provisioning (/scim/v2/, accounts/scim).

    It acts for the directory, not for a person: it has no user, reaches nothing but /scim/v2/, and nothing else
    accepts it. Issued by IT in admin (the secret is shown once); only its SHA-256 is stored.
    """

    name = models.CharField(max_length=100, help_text="Which identity provider uses it, e.g. 'Entra ID production'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "SCIM token"

    def __str__(self) -> str:  # never the hash
        return self.name

    @staticmethod
    def hash_of(token: str) -> str:
        """What is stored (and looked up) for a clear token."""
        return hashlib.sha256(token.encode()).hexdigest()


class ScimGroup(models.Model):
    """A group the identity provider pushed over SCIM. Its members get a Parley role when its name is mapped to
    one (PARLEY_SCIM_ROLE_GROUPS); other groups are kept only so the provider can read back what it wrote: they
    grant nothing, and never become Django groups, which carry permissions only IT and superusers should shape.
    """

    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=150, unique=True)
    members = models.ManyToManyField(User, blank=True, related_name="scim_groups")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SCIM group"

    def __str__(self) -> str:
        return self.display_name


class PushSubscription(models.Model):
    """One browser's Web Push subscription (docs/client.md): where to POST, and the keys to encrypt for it.

    The endpoint is a capability URL at the browser's push service; it is unique, so a browser that subscribes
    again (or for another person, after a sign-out) replaces its row. Deleted when the push service answers
    404 or 410 (the browser unsubscribed or expired it). Tied to the sign-in of the session that subscribed:
    once that session ends (signed out, ended from the security page, a new password), the browser gets no
    more pushes, so a shared computer stops showing the last person's messages.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_subscriptions")
    # None: subscribed with an API token (no session); such a subscription lasts until it is deleted.
    sign_in = models.ForeignKey("SignIn", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=100)  # the browser's P-256 public key, base64url
    auth = models.CharField(max_length=50)  # the browser's 16-byte authentication secret, base64url
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:  # never the endpoint: whoever has it can knock on the browser's door
        return f"push subscription {self.pk} of user {self.user_id}"


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
    # For a company sign-in, the identity provider's subject and session id (`sub` and `sid` of the ID token, when
    # sent), so a back-channel logout finds the session it names (accounts.services.oidc_backchannel_logout), also
    # of an account LDAP or SCIM keeps, which is linked to its own directory and not to the provider's `sub`.
    provider_subject = models.CharField(max_length=255, blank=True, db_index=True)
    provider_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # "signed_out", "ended_by_user", "password_changed", "signed_out_by_it", "deactivated", "signed_out_by_provider"
    end_reason = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-signed_in_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="sign_in_user_open")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.signed_in_at:%Y-%m-%d %H:%M} from {self.ip_address or 'unknown'}"

    @property
    def browser(self) -> str:
        """ "Firefox 133 on Ubuntu": what the sessions list shows instead of the raw User-Agent."""
        from accounts.user_agents import browser_and_system

        return browser_and_system(self.user_agent)


class LogoutTokenSeen(models.Model):
    """The `jti` of a back-channel Logout Token the identity provider sent, kept while a token issued with it could
    still be accepted (accounts.oidc.LOGOUT_TOKEN_MAX_AGE), so the same token sent again is refused as a replay."""

    jti = models.CharField(max_length=255, unique=True)  # the constraint decides between two copies sent at once
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"logout token {self.jti} received {self.received_at:%Y-%m-%d %H:%M:%S}"


# ---- second factors ---------------------------------------------------------------------------------------
# Parley's own django-otp devices: the same behaviour as django-otp's TOTPDevice and StaticDevice (throttling,
# devices_for_user, verify_token, otp login), but the authenticator secret and the backup codes are sealed with
# the key ring (core.fields), so a database dump gives no second factor. rotate_keys re-seals them too.

THROTTLE_FIELDS = ["throttling_failure_timestamp", "throttling_failure_count"]


def new_authenticator_secret() -> str:
    """20 random bytes as hex: the SHA-1 key length RFC 6238 authenticator apps expect (as django-otp's)."""
    return random_hex(20)


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (TOTP, RFC 6238) with its secret sealed. Confirmed once a code from it was entered."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret = EncryptedTextField(default=new_authenticator_secret)  # hex, as django-otp's TOTPDevice.key
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)  # time steps before or after now that still count
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)  # the step of the last code accepted: a code is used only once

    class Meta:
        verbose_name = "authenticator"

    def __str__(self) -> str:  # never the secret: str() ends up in logs and the audit log
        return f"{self.name} of user {self.user_id}"

    @property
    def bin_key(self) -> bytes:
        return bytes.fromhex(self.secret)

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token: str) -> bool:
        """As django-otp's TOTPDevice, but saving only the counters: the sealed secret is never rewritten."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            code = None
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        if code is not None and totp.verify(code, self.tolerance, self.last_t + 1):
            self.last_t = totp.t()
            if getattr(settings, "OTP_TOTP_SYNC", True):
                self.drift = totp.drift
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save(update_fields=["last_t", "drift", "last_used_at", *THROTTLE_FIELDS])
            return True
        self.throttle_increment(commit=False)
        self.save(update_fields=THROTTLE_FIELDS)
        return False

    @property
    def config_url(self) -> str:
        """The otpauth:// URL the QR code holds (Google's Key URI format), issuer from OTP_TOTP_ISSUER."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else self.user.get_username()
        params = {"secret": b32encode(self.bin_key), "algorithm": "SHA1", "digits": self.digits, "period": self.step}
        query = urlencode(params) + (f"&issuer={quote(issuer)}" if issuer else "")
        return f"otpauth://totp/{quote(label)}?{query}"


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A person's single-use backup codes, sealed together in one value (space-separated, the unused ones).

    Sealed rather than hashed: a code has 40 random bits, which a fast hash leaves open to brute force from a
    dump, a slow hash makes each sign-in pay ten times, and an HMAC key would need a lifecycle of its own;
    sealing uses the key ring everything else uses, and rotate_keys covers it. One row, locked by django-otp's
    verify_token (select_for_update), so two sign-ins never spend the same code.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    codes = EncryptedTextField()  # always given: issued with the device

    class Meta:
        verbose_name = "backup codes"
        verbose_name_plural = "backup codes"
        constraints = [models.UniqueConstraint(fields=["user"], name="backup_codes_one_set_per_user")]

    def __str__(self) -> str:  # never the codes
        return f"{self.name} of user {self.user_id}"

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token: str) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        remaining = self.codes.split()
        given = str(token).encode()
        match = next((code for code in remaining if hmac.compare_digest(code.encode(), given)), None)
        if match is None:
            self.throttle_increment(commit=False)
            self.save(update_fields=THROTTLE_FIELDS)
            return False
        remaining.remove(match)
        self.codes = " ".join(remaining)
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["codes", "last_used_at", *THROTTLE_FIELDS])
        return True
