from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "dues.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from dues.core.outbox import consumer_register
        from dues.webhooks.events import EVENT_TYPES
        from dues.webhooks.services import deliveries_create

        consumer_register("webhooks", deliveries_create, topics=EVENT_TYPES)
