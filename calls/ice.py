"""The ICE servers a signed-in user's browser may use (docs/calls.md, "Network").

None by default: Parley is in-house, and calls on one network connect directly (host candidates), so no
STUN or TURN server outside it is ever asked. An operator who runs coturn (deploy/coturn/) sets
PARLEY_TURN_URLS and the secret coturn shares (static-auth-secret); each user then gets credentials that
expire, the TURN REST API convention coturn's `use-auth-secret` checks: username "<expiry>:<user id>",
credential base64(HMAC-SHA1(secret, username)). Nothing is stored: coturn recomputes the HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def turn_credential(*, secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def ice_servers_for(*, user_id: int, now: float | None = None) -> list[dict[str, Any]]:
    """RTCPeerConnection's `iceServers` for this user: empty, or the company's TURN servers with credentials
    valid for PARLEY_TURN_CREDENTIAL_SECONDS."""
    if not settings.PARLEY_TURN_URLS:
        return []
    expiry = int(now if now is not None else time.time()) + settings.PARLEY_TURN_CREDENTIAL_SECONDS
    username = f"{expiry}:{user_id}"
    return [
        {
            "urls": list(settings.PARLEY_TURN_URLS),
            "username": username,
            "credential": turn_credential(secret=settings.PARLEY_TURN_SHARED_SECRET, username=username),
        }
    ]
