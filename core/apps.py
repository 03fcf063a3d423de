from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: infrastructure every app may use (it imports no app)."""

    name = "core"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the stores' system checks)
