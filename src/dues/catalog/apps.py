from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "dues.catalog"
    label = "catalog"
    verbose_name = "Plans and prices"
