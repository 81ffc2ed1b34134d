from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "dues.reports"
    label = "reports"
    verbose_name = "Reports"
