from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "dues.payments"
    label = "payments"
    verbose_name = "Payments"
