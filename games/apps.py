from django.apps import AppConfig


class GamesConfig(AppConfig):
    name = "games"
    verbose_name = "Games"

    def ready(self) -> None:
        from core.audit import audit_register
        from games import signals  # noqa: F401 (leavers and deactivated players forfeit their games)
        from games.models import GamePolicy

        # Who switched games off or on, and for whom (docs/administration.md).
        audit_register(GamePolicy)
