from django.apps import AppConfig


class CallsConfig(AppConfig):
    """Voice calls and screen sharing (docs/calls.md): WebRTC between browsers, signaling over /ws/."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "calls"
