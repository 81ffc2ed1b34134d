from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "dues.ledger"
    label = "ledger"
    verbose_name = "Ledger"
