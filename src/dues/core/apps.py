from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "dues.core"
    label = "core"
    verbose_name = "Organization and locations"
