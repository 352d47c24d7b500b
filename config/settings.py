"""Parley settings, read from the environment (twelve-factor).

Every variable is listed in README.md. `PARLEY_ENV=production` turns on the checks that make a deployment
safe: a secret key and allowed hosts are required, DEBUG is refused, and the TLS settings `manage.py check
--deploy` asks for are on.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from core.crypto import KeyRing, channel_layer_keys, new_key_entry
from core.regulation import DEFAULT_RETENTION_FLOOR_DAYS, RETENTION_FLOOR_DAYS
from core.runtime import read_or_create_secret
from core.webpush import new_vapid_private_key, vapid_private_key

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

PARLEY_ENV = env.str("PARLEY_ENV", default="development")
if PARLEY_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"PARLEY_ENV must be 'development' or 'production', not {PARLEY_ENV!r}.")
IS_PRODUCTION = PARLEY_ENV == "production"

# Development state (SQLite file, generated secrets, media) lives here; production points it at a volume.
VAR_DIR = Path(env.str("PARLEY_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PARLEY_ENV=production.")

if IS_PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is required when PARLEY_ENV=production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or read_or_create_secret(
        VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
    )

# Encryption at rest (docs/security.md): "k2:<base64>,k1:<base64>", the first key seals new data.
PARLEY_ENCRYPTION_KEYS = env.str("PARLEY_ENCRYPTION_KEYS", default="")
if IS_PRODUCTION and not PARLEY_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("PARLEY_ENCRYPTION_KEYS is required when PARLEY_ENV=production.")
if not PARLEY_ENCRYPTION_KEYS:
    _development_keys = VAR_DIR / "encryption_keys"
    if not _development_keys.exists():
        logging.getLogger("parley.settings").warning(
            "PARLEY_ENCRYPTION_KEYS is not set: generating a development key into %s. "
            "Never use it in production; losing it loses the data it sealed.",
            _development_keys,
        )
    PARLEY_ENCRYPTION_KEYS = read_or_create_secret(_development_keys, lambda: new_key_entry("dev1"))
_encryption_key_ring = KeyRing.from_spec(PARLEY_ENCRYPTION_KEYS)  # fails fast on a malformed ring

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when PARLEY_ENV=production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "accounts.admin_apps.ParleyAdminConfig",  # django.contrib.admin, opened by role as well as staff
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # /api/v1/docs serves Swagger UI from ninja's own static files, never from a CDN
    "auditlog",
    "axes",
    "django_otp",  # its plugins' devices keep secrets in clear: accounts has sealed ones (docs/security.md)
    "core",
    "accounts",
    "messenger",
    "archive",
    "calls",
    "games",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # before WhiteNoise, so static files carry the policy too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RejectNulCharactersMiddleware",  # U+0000 anywhere in a request: 400, never a database error
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ScimWithoutSessionMiddleware",  # /scim/v2/: the provider's token only, never a session
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): this session passed its second factor
    "accounts.middleware.SecondFactorMiddleware",  # a session that owes its second factor goes nowhere else
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",  # records who (the signed-in user) made each audited change
    "axes.middleware.AxesMiddleware",  # answers a locked-out sign-in with the lockout page (last, as axes asks)
]

# Content-Security-Policy on every response (django-csp): a second wall behind the server-side sanitizing of
# messages, so only our own scripts and styles ever run, and no other site may frame a page. A response that
# sets its own policy keeps it (shared files: a sandbox, messenger/files.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],  # the API and the socket (CSP 3: 'self' covers ws:/wss: to this host)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite (the default) waits for the write lock at BEGIN rather than failing mid-transaction, and uses WAL so
# readers do not block the writer. (conftest.py names the test database; it is a file, so that daphne
# processes started by the multi-worker tests open the same one.)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'parley.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every sync view and database_sync_to_async call may run in its own thread with its own
    # connection; a bounded pool per worker keeps a burst of sign-ins from exhausting PostgreSQL's
    # max_connections (requests wait up to `timeout` seconds for a connection instead of failing).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("PARLEY_DB_POOL_SIZE", default=20),
        "timeout": env.float("PARLEY_DB_POOL_TIMEOUT", default=10.0),
    }
# The PostgreSQL role web and worker connect as. Read by `migrate`, which runs as the owner of the tables and
# grants this role what the application needs, and on the archive only what it must (archive.db_roles).
PARLEY_DATABASE_APP_ROLE = env.str("PARLEY_DATABASE_APP_ROLE", default="")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset REDIS_URL (and no sentinels, below): the in-process layer, fine for one process. Set: every daphne
# worker shares Redis.
REDIS_URL = env.str("REDIS_URL", default="")
PARLEY_CHANNEL_PREFIX = env.str("PARLEY_CHANNEL_PREFIX", default="parley")
# redis-py refuses a command once a pool holds this many connections (its default, 100, is soon reached by
# a burst of sockets joining groups); Redis itself allows 10,000 clients.
PARLEY_REDIS_MAX_CONNECTIONS = env.int("PARLEY_REDIS_MAX_CONNECTIONS", default=1000)
# A command to Redis that has had no answer for this long fails, so a dead connection is noticed (the channel
# layer's subscriber polls with its own short timeouts and reconnects by itself).
PARLEY_REDIS_SOCKET_TIMEOUT_SECONDS = 30.0
REDIS_CONNECTION_OPTIONS = {
    "max_connections": PARLEY_REDIS_MAX_CONNECTIONS,
    "socket_timeout": PARLEY_REDIS_SOCKET_TIMEOUT_SECONDS,
}


def _sentinel_addresses(entries: list[str]) -> list[tuple[str, int]]:
    """Parse PARLEY_REDIS_SENTINELS ("host:port,host:port") into the (host, port) pairs redis-py expects."""
    addresses = []
    for entry in entries:
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(
                f"PARLEY_REDIS_SENTINELS must be host:port pairs separated by commas, not {entry.strip()!r}."
            )
        addresses.append((host.strip("[]"), int(port)))
    return addresses


# Redis Sentinel, so Redis is no single point of failure (README "Deployment"): instead of REDIS_URL, name the
# sentinels that watch a primary and its replicas. Every worker asks them where the primary is and, when they
# promote a replica, reconnects to it. Separate variables, not a redis+sentinel:// URL: neither redis-py nor
# channels-redis parses one, and a hand-rolled URL parser would be one more thing to get wrong.
PARLEY_REDIS_SENTINELS = _sentinel_addresses(env.list("PARLEY_REDIS_SENTINELS", default=[]))
PARLEY_REDIS_SENTINEL_MASTER = env.str("PARLEY_REDIS_SENTINEL_MASTER", default="parley")
if REDIS_URL and PARLEY_REDIS_SENTINELS:
    raise ImproperlyConfigured("Set REDIS_URL or PARLEY_REDIS_SENTINELS, not both.")
# How to reach Redis, in channels-redis's host format; presence builds its own client from the same entry.
REDIS_HOST: dict | None = None
if PARLEY_REDIS_SENTINELS:
    REDIS_HOST = {
        "sentinels": PARLEY_REDIS_SENTINELS,
        "master_name": PARLEY_REDIS_SENTINEL_MASTER,
        # Asking a sentinel is a quick question: a sentinel that does not answer within seconds is down, and
        # the next one is asked (the 30 s above is for commands on the primary).
        "sentinel_kwargs": {"socket_timeout": 5.0, "socket_connect_timeout": 5.0},
        **REDIS_CONNECTION_OPTIONS,
    }
elif REDIS_URL:
    REDIS_HOST = {"address": REDIS_URL, **REDIS_CONNECTION_OPTIONS}
if REDIS_HOST:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub, not channels-redis's list-per-socket layer: a group_send is one PUBLISH that each
            # worker receives once and hands to its own sockets, a worker subscribes to a group once however
            # many of its sockets join it, and after a Redis restart redis-py subscribes again by itself (the
            # list layer's groups vanished with Redis, and sockets silently received nothing more).
            # docs/benchmarks.md, "Real time under load", has the comparison.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_HOST],
                "prefix": PARLEY_CHANNEL_PREFIX,
                # Events carry message text: Fernet-encrypt them so nothing readable crosses or sits in Redis.
                "symmetric_encryption_keys": channel_layer_keys(_encryption_key_ring),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Messages a user may send per second on one worker, and the burst allowed above that rate.
PARLEY_SEND_RATE_PER_SECOND = env.float("PARLEY_SEND_RATE_PER_SECOND", default=10.0)
PARLEY_SEND_BURST = env.int("PARLEY_SEND_BURST", default=30)
# Calls (docs/calls.md): seconds a call rings before it is a missed call, and people in one call (a mesh: each
# sends their audio to every other, so the uplink grows with the call; beyond a handful an SFU is needed).
PARLEY_CALL_RING_SECONDS = env.int("PARLEY_CALL_RING_SECONDS", default=30)
PARLEY_CALL_MAX_PARTICIPANTS = env.int("PARLEY_CALL_MAX_PARTICIPANTS", default=6)
if PARLEY_CALL_RING_SECONDS < 1 or PARLEY_CALL_MAX_PARTICIPANTS < 2:
    raise ImproperlyConfigured("PARLEY_CALL_RING_SECONDS must be at least 1, PARLEY_CALL_MAX_PARTICIPANTS at least 2.")
# The company's own TURN servers (coturn, deploy/coturn/): none by default, so no STUN or TURN server outside the
# network is ever contacted. With a shared secret, Parley issues time-limited credentials (TURN REST API).
PARLEY_TURN_URLS = env.list("PARLEY_TURN_URLS", default=[])
PARLEY_TURN_SHARED_SECRET = env.str("PARLEY_TURN_SHARED_SECRET", default="")
PARLEY_TURN_CREDENTIAL_SECONDS = env.int("PARLEY_TURN_CREDENTIAL_SECONDS", default=12 * 3600)
if PARLEY_TURN_URLS and not PARLEY_TURN_SHARED_SECRET:
    raise ImproperlyConfigured("PARLEY_TURN_URLS needs PARLEY_TURN_SHARED_SECRET (coturn's static-auth-secret).")
# Sends one worker process handles at once (socket and API together); the next is refused with `overloaded`
# rather than queued (core/admission.py). Sized on this 2-core machine (docs/benchmarks.md, "Admission").
PARLEY_MAX_SENDS_IN_FLIGHT = env.int("PARLEY_MAX_SENDS_IN_FLIGHT", default=16)
if PARLEY_MAX_SENDS_IN_FLIGHT < 1:
    raise ImproperlyConfigured("PARLEY_MAX_SENDS_IN_FLIGHT must be at least 1.")

# Presence (docs/presence.md): a socket's connection expires TTL seconds after its last refresh. Every HEARTBEAT
# seconds one task per worker refreshes all of that worker's open sockets at once (a Redis script call per 250
# sockets, so a short HEARTBEAT costs little); a failed round is retried at the next, so keep TTL a few
# HEARTBEATs long. Every worker sweeps expired connections every SWEEP seconds: a dead worker's users go offline
# within TTL + SWEEP seconds.
PARLEY_PRESENCE_TTL_SECONDS = env.float("PARLEY_PRESENCE_TTL_SECONDS", default=20.0)
PARLEY_PRESENCE_HEARTBEAT_SECONDS = env.float("PARLEY_PRESENCE_HEARTBEAT_SECONDS", default=5.0)
PARLEY_PRESENCE_SWEEP_SECONDS = env.float("PARLEY_PRESENCE_SWEEP_SECONDS", default=2.0)
# The browser reports a tab idle after this long without input; a user whose tabs are all idle shows as away.
PARLEY_PRESENCE_IDLE_SECONDS = env.int("PARLEY_PRESENCE_IDLE_SECONDS", default=300)
# An open socket re-reads its session at the session's expiry and at least this often, so a session deleted
# from the store or expired closes its sockets (messenger.consumers).
PARLEY_SESSION_CHECK_SECONDS = env.float("PARLEY_SESSION_CHECK_SECONDS", default=300.0)

# File sharing (docs/files.md). Every upload is scanned by ClamAV's clamd before anyone can see it:
# "tcp://host:3310" or "unix:///run/clamav/clamd.ctl". Required in production; unset in development means
# files are shared unscanned (logged at the first upload).
PARLEY_CLAMD_ADDRESS = env.str("PARLEY_CLAMD_ADDRESS", default="")
if IS_PRODUCTION and not PARLEY_CLAMD_ADDRESS:
    raise ImproperlyConfigured("PARLEY_CLAMD_ADDRESS is required when PARLEY_ENV=production.")
PARLEY_CLAMD_TIMEOUT_SECONDS = env.float("PARLEY_CLAMD_TIMEOUT_SECONDS", default=30.0)
PARLEY_MAX_UPLOAD_MB = env.int("PARLEY_MAX_UPLOAD_MB", default=25)
# Django keeps uploads up to this size in memory (larger ones go to a temporary file, in clear, until sealed).
FILE_UPLOAD_MAX_MEMORY_SIZE = PARLEY_MAX_UPLOAD_MB * 1024 * 1024

# The compliance archive (docs/compliance.md). The signing key seals checkpoints (Ed25519, base64 of the raw
# 32-byte private key); auditors get the public key from `manage.py archive_public_key`. Keys that signed
# earlier checkpoints stay trusted by listing their public keys (hex) in the second variable.
PARLEY_ARCHIVE_SIGNING_KEY = env.str("PARLEY_ARCHIVE_SIGNING_KEY", default="")
if IS_PRODUCTION and not PARLEY_ARCHIVE_SIGNING_KEY:
    raise ImproperlyConfigured("PARLEY_ARCHIVE_SIGNING_KEY is required when PARLEY_ENV=production.")
if not PARLEY_ARCHIVE_SIGNING_KEY:
    PARLEY_ARCHIVE_SIGNING_KEY = read_or_create_secret(
        VAR_DIR / "archive_signing_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS = env.list("PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS", default=[])
# Every checkpoint is also written, signed, to this directory once committed: mount WORM storage here (a bucket
# with object lock, an append-only file system) that the application cannot rewrite (archive.outside). And,
# when addresses are given, mailed to the firm's designated third party (the EMAIL_* settings below).
PARLEY_CHECKPOINT_DIR = Path(env.str("PARLEY_CHECKPOINT_DIR", default=str(VAR_DIR / "checkpoints")))
PARLEY_CHECKPOINT_MAIL_TO = env.list("PARLEY_CHECKPOINT_MAIL_TO", default=[])
# Retention: the default when no default policy is set, and the floor no policy may go below. The floor is a
# constant of the code (core.regulation); the variable may raise it, never lower it, and the default is checked
# against it here so a deployment that would purge too early never starts.
PARLEY_RETENTION_FLOOR_DAYS = env.int("PARLEY_RETENTION_FLOOR_DAYS", default=RETENTION_FLOOR_DAYS)
if PARLEY_RETENTION_FLOOR_DAYS < RETENTION_FLOOR_DAYS:
    raise ImproperlyConfigured(
        f"PARLEY_RETENTION_FLOOR_DAYS={PARLEY_RETENTION_FLOOR_DAYS} is below the regulatory floor of "
        f"{RETENTION_FLOOR_DAYS} days (3 years, SEC 17a-4 / FINRA 4511); it may only raise the floor."
    )
PARLEY_RETENTION_DEFAULT_DAYS = env.int("PARLEY_RETENTION_DEFAULT_DAYS", default=DEFAULT_RETENTION_FLOOR_DAYS)
default_retention_floor = max(DEFAULT_RETENTION_FLOOR_DAYS, PARLEY_RETENTION_FLOOR_DAYS)
if default_retention_floor > PARLEY_RETENTION_DEFAULT_DAYS:
    raise ImproperlyConfigured(
        f"PARLEY_RETENTION_DEFAULT_DAYS={PARLEY_RETENTION_DEFAULT_DAYS} is below the retention floor of "
        f"{default_retention_floor} days for the default (6 years, "
        "FINRA 4511(b)); archive entries must be kept at least that long."
    )

# Supervision (FINRA 3110, archive.supervision): items nobody decided within this many days show as overdue; the
# worker's supervision step looks for entries inserted by still-open transactions for this long; a seed makes
# the daily random sample repeatable (tests only: in production the draw must not be predictable).
PARLEY_SUPERVISION_REVIEW_DAYS = env.int("PARLEY_SUPERVISION_REVIEW_DAYS", default=5)
PARLEY_SUPERVISION_GAP_SECONDS = env.int("PARLEY_SUPERVISION_GAP_SECONDS", default=600)
PARLEY_SUPERVISION_SAMPLE_SEED = env.str("PARLEY_SUPERVISION_SAMPLE_SEED", default="")

# Exports the desk queues (archive.export_jobs): run by the worker, stored sealed in chunks here (not under
# MEDIA_ROOT, which rotate_keys re-seals file by file), deleted by the worker after PARLEY_EXPORT_KEEP_DAYS.
PARLEY_EXPORT_DIR = Path(env.str("PARLEY_EXPORT_DIR", default=str(VAR_DIR / "exports")))
PARLEY_EXPORT_KEEP_DAYS = env.int("PARLEY_EXPORT_KEEP_DAYS", default=7)
# The daily export of the previous day for an outside archiver (archive.scheduled_exports): a directory or
# sftp://user@host:port/path; over SFTP with this private key, to a host whose key is in this known_hosts file
# (required: an unknown host key is refused). Empty target: no scheduled export.
PARLEY_SCHEDULED_EXPORT_TARGET = env.str("PARLEY_SCHEDULED_EXPORT_TARGET", default="")
PARLEY_SCHEDULED_EXPORT_FORMAT = env.str("PARLEY_SCHEDULED_EXPORT_FORMAT", default="eml")
PARLEY_SCHEDULED_EXPORT_SSH_KEY = env.str("PARLEY_SCHEDULED_EXPORT_SSH_KEY", default="")
PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS = env.str("PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS", default="")

# Reaching people with no tab open (docs/client.md, docs/security.md). Links in e-mails and notifications
# point here; in production it defaults to the first allowed host.
PARLEY_SITE_URL = env.str(
    "PARLEY_SITE_URL", default=f"https://{ALLOWED_HOSTS[0].lstrip('.')}" if IS_PRODUCTION else "http://127.0.0.1:8000"
).rstrip("/")
# Whether a push notification or a digest e-mail may carry the words of a message. Off: they say only who wrote
# ("New message from Alice"), because push services (Google, Mozilla, Apple) and mail servers are outside the
# company; only a company that accepts that turns this on.
PARLEY_NOTIFICATION_PREVIEWS = env.bool("PARLEY_NOTIFICATION_PREVIEWS", default=False)
# Web Push: the VAPID key (base64url of the raw 32-byte P-256 private key) that signs every push, so push
# services accept them for our subscriptions only. Optional in production (no key: no Web Push).
PARLEY_VAPID_PRIVATE_KEY = env.str("PARLEY_VAPID_PRIVATE_KEY", default="")
if not PARLEY_VAPID_PRIVATE_KEY and not IS_PRODUCTION:
    PARLEY_VAPID_PRIVATE_KEY = read_or_create_secret(VAR_DIR / "vapid_private_key", new_vapid_private_key)
if PARLEY_VAPID_PRIVATE_KEY:
    try:
        vapid_private_key(PARLEY_VAPID_PRIVATE_KEY)
    except ValueError as error:
        raise ImproperlyConfigured(f"PARLEY_VAPID_PRIVATE_KEY: {error}") from None
# Push services want a way to reach whoever sends the pushes (Apple refuses a localhost address).
PARLEY_VAPID_SUBJECT = env.str("PARLEY_VAPID_SUBJECT", default="")
# Hosts a subscription's endpoint may point at (and their subdomains): the push services of Chrome, Edge,
# Firefox and Safari. The server POSTs to these, so an endpoint anywhere else (an internal address) is refused.
PARLEY_PUSH_SERVICE_HOSTS = env.list(
    "PARLEY_PUSH_SERVICE_HOSTS",
    default=["fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com"],
)
# E-mail (Django's SMTP backend): digests, and checkpoint copies for the designated third party. Without
# EMAIL_HOST, development prints mails to the log and production sends no digests.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Parley <parley@localhost>")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
elif not IS_PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The digest of missed direct messages and mentions: sent this many minutes after a message went unread (and
# at most that often per person); 0 turns digests off.
PARLEY_DIGEST_AFTER_MINUTES = env.int("PARLEY_DIGEST_AFTER_MINUTES", default=60)
if PARLEY_DIGEST_AFTER_MINUTES < 0:
    raise ImproperlyConfigured("PARLEY_DIGEST_AFTER_MINUTES must be 0 (off) or more.")

AUTH_USER_MODEL = "accounts.User"

# Sign-in security (docs/security.md). The client address comes from REMOTE_ADDR unless a proxy header is
# named here: only set it when every request passes through your own load balancer, which must overwrite or
# append to that header. With X-Forwarded-For, PARLEY_TRUSTED_PROXY_COUNT says how many of your proxies
# appended to it (the client address is that many entries from the right).
PARLEY_TRUSTED_PROXY_HEADER = env.str("PARLEY_TRUSTED_PROXY_HEADER", default="")
PARLEY_TRUSTED_PROXY_COUNT = env.int("PARLEY_TRUSTED_PROXY_COUNT", default=1)
# Who may read /metrics (core.metrics, docs/monitoring.md): addresses or CIDR networks, matched against the
# client address above; anyone else gets 404. Loopback only unless you name your Prometheus hosts.
PARLEY_METRICS_ALLOWED_ADDRESSES = env.list("PARLEY_METRICS_ALLOWED_ADDRESSES", default=["127.0.0.1/32", "::1/128"])
# SCIM provisioning (/scim/v2/, docs/directory.md, SCIM): which of the identity provider's groups give a Parley role,
# as "IT Admins=<group displayName>;Compliance Officers=<group displayName>" (names match in any case). Everyone
# provisioned is an Employee; groups not named here grant nothing. Checked by migrate and check (accounts.scim.checks).
PARLEY_SCIM_ROLE_GROUPS = env.str("PARLEY_SCIM_ROLE_GROUPS", default="")
# Lockout (django-axes, accounts/lockout.py): after this many failed passwords for one username from one
# address, sign-in is refused for that username from that address until the cool-off passes or IT unlocks it
# in admin (0 minutes: only IT unlocks). Failures elsewhere cannot lock a person out where they work, and a
# whole office behind one NAT address is not locked out by one colleague's typos.
AXES_FAILURE_LIMIT = env.int("PARLEY_LOGIN_FAILURE_LIMIT", default=5)
_lockout_minutes = env.int("PARLEY_LOGIN_LOCKOUT_MINUTES", default=15)
AXES_COOLOFF_TIME = _lockout_minutes / 60 if _lockout_minutes else None  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# ...and after this many failed passwords from one address for any usernames, that address may not sign in
# at all (password spraying: a few guesses at many accounts). Higher than the username limit, since an
# office shares an address; 0 turns it off.
PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
AXES_HANDLER = "accounts.lockout.ParleyAxesHandler"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False
# Two-factor sign-in (django-otp, TOTP): the name authenticator apps show for Parley accounts.
OTP_TOTP_ISSUER = env.str("PARLEY_TOTP_ISSUER", default="Parley")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's hashers, PBKDF2 (the default, at Django's strength) first, in a subclass that hashes in turn: at most
# PARLEY_PASSWORD_HASHES_AT_ONCE at once per worker process, the others wait in arrival order (a sign-in storm
# queues instead of starving the event loop; core/admission.py). Django's own PBKDF2 class is left out: it has
# the same algorithm name, and the later of the two would verify the stored hashes.
PASSWORD_HASHERS = [
    "accounts.hashers.QueuedPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
PARLEY_PASSWORD_HASHES_AT_ONCE = env.int("PARLEY_PASSWORD_HASHES_AT_ONCE", default=1)
if PARLEY_PASSWORD_HASHES_AT_ONCE < 1:
    raise ImproperlyConfigured("PARLEY_PASSWORD_HASHES_AT_ONCE must be at least 1.")
# LDAP / Active Directory (accounts/ldap.py, docs/directory.md): sign-in with the directory's password and
# `manage.py sync_directory`. Off unless PARLEY_LDAP_SERVER_URI is set. Plain values here; accounts.ldap builds
# django-auth-ldap's configuration from them, so tests and the sync command read one set of names.
PARLEY_LDAP_SERVER_URI = env.str("PARLEY_LDAP_SERVER_URI", default="")
PARLEY_LDAP_BIND_DN = env.str("PARLEY_LDAP_BIND_DN", default="")
PARLEY_LDAP_BIND_PASSWORD = env.str("PARLEY_LDAP_BIND_PASSWORD", default="")
PARLEY_LDAP_START_TLS = env.bool("PARLEY_LDAP_START_TLS", default=False)
PARLEY_LDAP_CA_FILE = env.str("PARLEY_LDAP_CA_FILE", default="")
PARLEY_LDAP_USER_SEARCH_BASE = env.str("PARLEY_LDAP_USER_SEARCH_BASE", default="")
PARLEY_LDAP_USER_FILTER = env.str("PARLEY_LDAP_USER_FILTER", default="(sAMAccountName=%(user)s)")
PARLEY_LDAP_SYNC_FILTER = env.str("PARLEY_LDAP_SYNC_FILTER", default="(&(objectCategory=person)(objectClass=user))")
PARLEY_LDAP_DISABLED_FILTER = env.str(
    "PARLEY_LDAP_DISABLED_FILTER", default="(userAccountControl:1.2.840.113556.1.4.803:=2)"
)
PARLEY_LDAP_ATTR_USERNAME = env.str("PARLEY_LDAP_ATTR_USERNAME", default="sAMAccountName")
PARLEY_LDAP_ATTR_EMAIL = env.str("PARLEY_LDAP_ATTR_EMAIL", default="mail")
PARLEY_LDAP_ATTR_NAME = env.str("PARLEY_LDAP_ATTR_NAME", default="displayName")
PARLEY_LDAP_ATTR_DEPARTMENT = env.str("PARLEY_LDAP_ATTR_DEPARTMENT", default="department")
PARLEY_LDAP_ATTR_TITLE = env.str("PARLEY_LDAP_ATTR_TITLE", default="title")
PARLEY_LDAP_ATTR_PHONE = env.str("PARLEY_LDAP_ATTR_PHONE", default="telephoneNumber")
PARLEY_LDAP_ATTR_MANAGER = env.str("PARLEY_LDAP_ATTR_MANAGER", default="manager")
PARLEY_LDAP_GROUP_SEARCH_BASE = env.str("PARLEY_LDAP_GROUP_SEARCH_BASE", default="") or PARLEY_LDAP_USER_SEARCH_BASE
PARLEY_LDAP_GROUP_TYPE = env.str("PARLEY_LDAP_GROUP_TYPE", default="activeDirectory")
PARLEY_LDAP_ROLE_GROUPS = env.str("PARLEY_LDAP_ROLE_GROUPS", default="")
PARLEY_LDAP_SYNC_MINUTES = env.int("PARLEY_LDAP_SYNC_MINUTES", default=15)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username before the password is checked
    # Django's ModelBackend (passwords Parley keeps, and permissions), refusing passwords when they are off.
    "accounts.backends.LocalPasswordBackend",
]
if PARLEY_LDAP_SERVER_URI:
    try:
        import django_auth_ldap  # noqa: F401
        import ldap  # noqa: F401
    except ImportError as missing:
        raise ImproperlyConfigured(
            f"PARLEY_LDAP_SERVER_URI is set but {missing.name} is not installed: pip install -r requirements-ldap.txt "
            "(python-ldap builds against libldap-dev and libsasl2-dev; docs/directory.md)."
        ) from None
    # After axes' (a locked-out username never reaches the directory), before local passwords.
    AUTHENTICATION_BACKENDS.insert(1, "accounts.ldap.ParleyLDAPBackend")

# Passwords Parley keeps (docs/security.md, "Local passwords off"): "off" refuses every password sign-in (the
# login page, the admin's) except for the break-glass accounts named here, so people sign in only through the
# company's identity provider, and IT keeps a way in when the provider is down.
PARLEY_LOCAL_PASSWORDS = env.str("PARLEY_LOCAL_PASSWORDS", default="on").strip().lower()
if PARLEY_LOCAL_PASSWORDS not in {"on", "off"}:
    raise ImproperlyConfigured(f"PARLEY_LOCAL_PASSWORDS must be 'on' or 'off', not {PARLEY_LOCAL_PASSWORDS!r}.")
PARLEY_BREAK_GLASS_USERNAMES = [name.strip() for name in env.list("PARLEY_BREAK_GLASS_USERNAMES", default=[])]

# OpenID Connect single sign-on (docs/directory.md, mozilla-django-oidc): on when a client id is set. Endpoints
# are named, not discovered: discovery at start-up would make Parley's start depend on the provider answering,
# and the four URLs are stable and listed on every provider's configuration page (the docs give them for Entra
# ID, Okta and Keycloak). The issuer is checked against every ID token's `iss`.
PARLEY_OIDC_CLIENT_ID = env.str("PARLEY_OIDC_CLIENT_ID", default="")
PARLEY_OIDC_ENABLED = bool(PARLEY_OIDC_CLIENT_ID)
PARLEY_OIDC_ISSUER = env.str("PARLEY_OIDC_ISSUER", default="")
PARLEY_OIDC_PROVIDER_NAME = env.str("PARLEY_OIDC_PROVIDER_NAME", default="your company")
PARLEY_OIDC_USERNAME_CLAIM = env.str("PARLEY_OIDC_USERNAME_CLAIM", default="preferred_username")
PARLEY_OIDC_ROLES_CLAIM = env.str("PARLEY_OIDC_ROLES_CLAIM", default="roles")
PARLEY_OIDC_ROLE_VALUES = env.str("PARLEY_OIDC_ROLE_VALUES", default="")
OIDC_RP_CLIENT_ID = PARLEY_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = env.str("PARLEY_OIDC_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("PARLEY_OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("PARLEY_OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("PARLEY_OIDC_USERINFO_ENDPOINT", default="")  # optional: claims of the ID token
OIDC_OP_JWKS_ENDPOINT = env.str("PARLEY_OIDC_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("PARLEY_OIDC_SIGN_ALGORITHM", default="RS256")
OIDC_RP_SCOPES = env.str("PARLEY_OIDC_SCOPES", default="openid email profile")
OIDC_USE_PKCE = True  # and state and nonce, as the library does by default
OIDC_TIMEOUT = 10  # seconds for each call to the provider: a hung provider must not hold a worker thread
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"
if PARLEY_OIDC_ENABLED:
    _missing = [
        name
        for name, value in {
            "PARLEY_OIDC_CLIENT_SECRET": OIDC_RP_CLIENT_SECRET,
            "PARLEY_OIDC_ISSUER": PARLEY_OIDC_ISSUER,
            "PARLEY_OIDC_AUTHORIZATION_ENDPOINT": OIDC_OP_AUTHORIZATION_ENDPOINT,
            "PARLEY_OIDC_TOKEN_ENDPOINT": OIDC_OP_TOKEN_ENDPOINT,
            # The provider's keys check RS256 and ES256 signatures; an HS256 token is checked with the secret.
            "PARLEY_OIDC_JWKS_ENDPOINT": OIDC_OP_JWKS_ENDPOINT or OIDC_RP_SIGN_ALGO.startswith("HS"),
        }.items()
        if not value
    ]
    if _missing:
        raise ImproperlyConfigured(f"PARLEY_OIDC_CLIENT_ID is set, so {', '.join(_missing)} must be set too.")
    AUTHENTICATION_BACKENDS.append("accounts.oidc.ParleyOIDCBackend")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("PARLEY_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    # Uploads are sealed on disk (docs/security.md); rotate_keys re-seals what is under MEDIA_ROOT.
    "default": {"BACKEND": "core.storage.EncryptedFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the app folders, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
if not IS_PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one

if IS_PRODUCTION:
    # Parley sits behind a TLS-terminating load balancer that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load-balancer probes speak plain HTTP on the inside
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every sign-in at INFO; Parley keeps its own sign-in records (accounts.SignIn).
    "loggers": {"axes": {"level": "WARNING"}},
}
