from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "dues.notify"
    label = "notify"
    verbose_name = "Messages"

    def ready(self) -> None:
        from dues.core.outbox import consumer_register
        from dues.notify.classes import CLASS_TOPICS, class_messages_create
        from dues.notify.reminders import REMINDER_TOPICS, dunning_messages_create

        consumer_register("notify", dunning_messages_create, topics=REMINDER_TOPICS)
        consumer_register("notify.classes", class_messages_create, topics=CLASS_TOPICS)
