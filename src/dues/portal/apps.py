from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "dues.portal"
    label = "portal"
    verbose_name = "Member portal"
