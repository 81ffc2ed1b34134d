from django.urls import path
from rest_framework.routers import DefaultRouter

from dues.api import access, views

router = DefaultRouter()
router.register("members", views.MemberViewSet, basename="member")
router.register("plans", views.PlanViewSet, basename="plan")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("credit-notes", views.CreditNoteViewSet, basename="credit-note")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("refunds", views.RefundViewSet, basename="refund")
router.register("payment-methods", views.PaymentMethodViewSet, basename="payment-method")
router.register("dunning-policies", views.DunningPolicyViewSet, basename="dunning-policy")
router.register("dunning-experiments", views.ExperimentViewSet, basename="dunning-experiment")
router.register("reports", views.ReportViewSet, basename="report")
router.register("webhook-endpoints", views.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhook-delivery")
urlpatterns = [
    *router.urls,
    path("access/scan", access.ScanView.as_view(), name="access-scan"),
    path("access/allowlist", access.AllowListView.as_view(), name="access-allowlist"),
]
