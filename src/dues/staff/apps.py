from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "dues.staff"
    label = "staff"
    verbose_name = "Staff web app"
