from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "dues.access"
    label = "access"
    verbose_name = "Door access"
