"""The ASGI entry point that daphne serves: HTTP to Django, WebSockets to Parley's consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.origin import SameOriginWebSocket  # noqa: E402
from messenger.routing import websocket_urlpatterns  # noqa: E402
from messenger.upload_limit import RefuseOversizedUploads  # noqa: E402

application = ProtocolTypeRouter(
    {
        # A file declaring more than PARLEY_MAX_UPLOAD_MB is refused before Django reads its body
        # (messenger/upload_limit.py).
        "http": RefuseOversizedUploads(django_asgi_app),
        # The Origin check (scheme, host and port) stops another site's page, or a page on another port of our
        # host, from opening a socket with the user's cookies (core/origin.py).
        "websocket": SameOriginWebSocket(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
