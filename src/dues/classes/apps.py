from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "dues.classes"
    label = "classes"
    verbose_name = "Classes"
