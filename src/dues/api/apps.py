from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "dues.api"
    label = "api"
    verbose_name = "API"
