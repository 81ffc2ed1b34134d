from django.urls import path

from dues.payments.views import stripe_webhook

urlpatterns = [
    path("stripe/", stripe_webhook, name="stripe-webhook"),
    path("stripe/<slug:slug>/", stripe_webhook, name="stripe-webhook-org"),
]
