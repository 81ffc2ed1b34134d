from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the CLI commands, the scheduler, demo data and the simulator. It sits
    above every domain app (like portal, staff and api) and nothing imports it."""

    name = "dues.ops"
    label = "ops"
    verbose_name = "Operations"
