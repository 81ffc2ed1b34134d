from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "dues.members"
    label = "members"
    verbose_name = "Members"
