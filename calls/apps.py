from django.apps import AppConfig


class CallsConfig(AppConfig):
    """Voice calls and screen sharing (docs/calls.md): WebRTC between browsers, signaling over /ws/."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "calls"

    def ready(self) -> None:
        from django.conf import settings

        from calls.services import calls_ring_overdue_expire
        from core.worker import worker_job_register

        def missed_calls() -> str | None:
            ended = calls_ring_overdue_expire()
            return f"{ended} unanswered call(s) ended as missed" if ended else None

        # The ring timer is a thread in the daphne process that took the invite: if that process stops, the
        # worker ends the call within a sixth of the ring time after it was due (one indexed query when none is).
        worker_job_register(
            name="missed calls", run=missed_calls, every_seconds=max(1.0, settings.PARLEY_CALL_RING_SECONDS / 6)
        )
