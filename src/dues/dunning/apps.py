from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "dues.dunning"
    label = "dunning"
    verbose_name = "Dunning"
