from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "dues.crm"
    label = "crm"
    verbose_name = "CRM"
