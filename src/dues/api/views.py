"""REST API v1. Views stay thin: validate with a serializer, call one service with the
system clock, render the result. Every queryset is scoped to the API key's organization,
so another organization's id is indistinguishable from an unknown one (404)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dues.api import serializers as s
from dues.api.idempotency import idempotent
from dues.api.models import ApiKey
from dues.billing.invoices import credit_note_create, invoice_void
from dues.billing.models import CreditNote, Invoice, Subscription
from dues.billing.services import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_freeze,
    subscription_unfreeze,
)
from dues.catalog.models import Plan
from dues.catalog.services import plan_create
from dues.core.clock import SystemClock
from dues.core.models import Organization
from dues.core.selectors import organization_today
from dues.crm.selectors import member_timeline
from dues.dunning.experiments import experiment_report
from dues.dunning.models import DunningPolicy, Experiment
from dues.dunning.services import policy_delete, policy_save
from dues.members.models import Member
from dues.members.services import member_create, member_update
from dues.payments.gateways.base import gateway_get
from dues.payments.models import Payment, PaymentMethod, Refund
from dues.payments.services import (
    payment_method_add,
    payment_method_detach,
    payment_take_at_desk,
    refund_create,
)
from dues.reports.selectors import arrears_aging, month_first, months_span, recovery_by_month
from dues.webhooks.models import WebhookDelivery, WebhookEndpoint
from dues.webhooks.services import delivery_replay, endpoint_create, endpoint_update

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body replay the first response.",
)


def _validated(
    serializer_class: type[serializers.Serializer[Any]], request: Request, view: Any
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class OrgScopedViewSet(viewsets.GenericViewSet[Any]):
    """Base: querysets filtered by the caller's organization."""

    base_queryset: QuerySet[Any]

    @property
    def organization_id(self) -> int:
        assert isinstance(self.request.auth, ApiKey)
        return int(self.request.auth.organization_id)

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.base_queryset.none()
        return self.base_queryset.filter(organization_id=self.organization_id)

    def respond(
        self, serializer_class: type[serializers.Serializer[Any]], obj: Any, code: int
    ) -> Response:
        return Response(
            serializer_class(obj, context=self.get_serializer_context()).data, status=code
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="Search name or email.")]
    )
)
class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Member.objects.all()
    serializer_class = s.MemberSerializer

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        query = self.request.query_params.get("q", "").strip()
        for term in query.split():
            queryset = queryset.filter(
                Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
                | Q(email__icontains=term)
            )
        return queryset

    @extend_schema(
        request=s.MemberCreateSerializer,
        responses={201: s.MemberSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent()
    def create(self, request: Request) -> Response:
        data = _validated(s.MemberCreateSerializer, request, self)
        assert isinstance(request.auth, ApiKey)
        member = member_create(organization=request.auth.organization, clock=SystemClock(), **data)
        return self.respond(s.MemberSerializer, member, status.HTTP_201_CREATED)

    def _update(self, request: Request, *, partial: bool) -> Response:
        member = self.get_object()
        serializer = s.MemberUpdateSerializer(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            member = member_update(member=member, clock=SystemClock(), **serializer.validated_data)
        return self.respond(s.MemberSerializer, member, status.HTTP_200_OK)

    @extend_schema(request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer})
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    @extend_schema(responses={200: s.TimelineEntrySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        """Every message, payment attempt, restriction and dunning case, newest first."""
        entries = member_timeline(self.get_object())
        return Response(s.TimelineEntrySerializer(entries, many=True).data)


class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Plan.objects.prefetch_related("locations")
    serializer_class = s.PlanSerializer

    @extend_schema(
        request=s.PlanCreateSerializer,
        responses={201: s.PlanSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent()
    def create(self, request: Request) -> Response:
        data = _validated(s.PlanCreateSerializer, request, self)
        organization = Organization.objects.get(pk=self.organization_id)
        plan = plan_create(organization=organization, clock=SystemClock(), **data)
        return self.respond(s.PlanSerializer, plan, status.HTTP_201_CREATED)


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Subscription.objects.select_related("location", "plan").prefetch_related(
        "freezes"
    )
    serializer_class = s.SubscriptionSerializer

    def _done(self, sub: Subscription, code: int = status.HTTP_200_OK) -> Response:
        return self.respond(s.SubscriptionSerializer, self.get_queryset().get(pk=sub.pk), code)

    @extend_schema(
        request=s.SubscriptionCreateSerializer,
        responses={201: s.SubscriptionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent()
    def create(self, request: Request) -> Response:
        data = _validated(s.SubscriptionCreateSerializer, request, self)
        sub = subscription_create(clock=SystemClock(), **data)
        return self._done(sub, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SubscriptionFreezeSerializer,
        responses={200: s.SubscriptionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def freeze(self, request: Request, pk: str | None = None) -> Response:
        sub = self.get_object()
        data = _validated(s.SubscriptionFreezeSerializer, request, self)
        subscription_freeze(sub=sub, clock=SystemClock(), **data)
        return self._done(sub)

    @extend_schema(
        request=None, responses={200: s.SubscriptionSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def unfreeze(self, request: Request, pk: str | None = None) -> Response:
        sub = self.get_object()
        subscription_unfreeze(sub=sub, clock=SystemClock())
        return self._done(sub)

    @extend_schema(
        request=s.SubscriptionCancelSerializer,
        responses={200: s.SubscriptionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        sub = self.get_object()
        data = _validated(s.SubscriptionCancelSerializer, request, self)
        subscription_cancel(sub=sub, clock=SystemClock(), **data)
        return self._done(sub)

    @extend_schema(
        request=s.SubscriptionChangePlanSerializer,
        responses={200: s.SubscriptionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], url_path="change-plan")
    @idempotent()
    def change_plan(self, request: Request, pk: str | None = None) -> Response:
        sub = self.get_object()
        data = _validated(s.SubscriptionChangePlanSerializer, request, self)
        subscription_change_plan(
            sub=sub, new_plan=data["plan"], at_period_end=data["at_period_end"], clock=SystemClock()
        )
        return self._done(sub)


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Invoice.objects.prefetch_related("lines")
    serializer_class = s.InvoiceSerializer

    @extend_schema(
        request=s.InvoiceVoidSerializer,
        responses={200: s.InvoiceSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def void(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        data = _validated(s.InvoiceVoidSerializer, request, self)
        invoice_void(invoice=invoice, clock=SystemClock(), reason=data["reason"])
        return self.respond(
            s.InvoiceSerializer, self.get_queryset().get(pk=invoice.pk), status.HTTP_200_OK
        )

    @extend_schema(
        request=s.InvoicePaySerializer,
        responses={201: s.PaymentSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def pay(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        data = _validated(s.InvoicePaySerializer, request, self)
        payment = payment_take_at_desk(invoice=invoice, clock=SystemClock(), **data)
        return self.respond(s.PaymentSerializer, payment, status.HTTP_201_CREATED)


class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = CreditNote.objects.all()
    serializer_class = s.CreditNoteSerializer

    @extend_schema(
        request=s.CreditNoteCreateSerializer,
        responses={201: s.CreditNoteSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent()
    def create(self, request: Request) -> Response:
        data = _validated(s.CreditNoteCreateSerializer, request, self)
        note = credit_note_create(clock=SystemClock(), **data)
        return self.respond(s.CreditNoteSerializer, note, status.HTTP_201_CREATED)


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Payment.objects.all()
    serializer_class = s.PaymentSerializer


class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = Refund.objects.order_by("-created_at", "-id")
    serializer_class = s.RefundSerializer

    @extend_schema(
        request=s.RefundCreateSerializer,
        responses={201: s.RefundSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    # Not one transaction: the refund row commits before the gateway is called
    # (DESIGN invariant 2); refund_create manages its own transactions.
    @idempotent(atomic=False)
    def create(self, request: Request) -> Response:
        data = _validated(s.RefundCreateSerializer, request, self)
        refund = refund_create(clock=SystemClock(), gateway=gateway_get(), **data)
        return self.respond(s.RefundSerializer, refund, status.HTTP_201_CREATED)


class PaymentMethodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    base_queryset = PaymentMethod.objects.order_by("-created_at", "-id")
    serializer_class = s.PaymentMethodSerializer

    @extend_schema(
        request=s.PaymentMethodCreateSerializer,
        responses={201: s.PaymentMethodSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent()
    def create(self, request: Request) -> Response:
        data = _validated(s.PaymentMethodCreateSerializer, request, self)
        method = payment_method_add(clock=SystemClock(), **data)
        return self.respond(s.PaymentMethodSerializer, method, status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        method = self.get_object()
        if method.status != PaymentMethod.Status.DETACHED:
            payment_method_detach(method=method, clock=SystemClock())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DunningPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The organization's dunning policy (``plan`` null) and plan overrides."""

    base_queryset = DunningPolicy.objects.prefetch_related("steps")
    serializer_class = s.DunningPolicySerializer

    def _plan(self, plan_id: int | None) -> Plan | None:
        if plan_id is None:
            return None
        plan = Plan.objects.filter(organization_id=self.organization_id, pk=plan_id).first()
        if plan is None:
            raise serializers.ValidationError({"plan": f"no plan {plan_id}"})
        return plan

    def _save(self, request: Request, policy: DunningPolicy | None, code: int) -> Response:
        data = _validated(s.DunningPolicyWriteSerializer, request, self)
        steps = data.pop("steps", None)
        plan_id = data.pop("plan", None)
        if policy is not None and plan_id not in (None, policy.plan_id):
            raise serializers.ValidationError({"plan": "a policy cannot move to another plan"})
        saved = policy_save(
            organization_id=self.organization_id,
            clock=SystemClock(),
            policy=policy,
            plan=self._plan(plan_id) if policy is None else None,
            fields=data,
            steps=[dict(step) for step in steps] if steps is not None else None,
        )
        return self.respond(s.DunningPolicySerializer, saved, code)

    @extend_schema(
        request=s.DunningPolicyWriteSerializer, responses={201: s.DunningPolicySerializer}
    )
    def create(self, request: Request) -> Response:
        return self._save(request, None, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.DunningPolicyWriteSerializer, responses={200: s.DunningPolicySerializer}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._save(request, self.get_object(), status.HTTP_200_OK)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """A plan's override can go (the plan falls back to the default); the default stays."""
        policy = self.get_object()
        if policy.plan_id is None:
            raise serializers.ValidationError(
                {"plan": "the organization's default policy cannot be deleted; change it instead"}
            )
        policy_delete(policy=policy)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Dunning experiments and their results."""

    base_queryset = Experiment.objects.prefetch_related("variants")
    serializer_class = s.ExperimentSerializer

    @extend_schema(responses={200: s.VariantResultSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def report(self, request: Request, pk: str | None = None) -> Response:
        """Recovery per variant with 95% intervals."""
        rows = experiment_report(self.get_object())
        return Response(s.VariantResultSerializer(rows, many=True).data)


class ReportViewSet(OrgScopedViewSet):
    """Failed-payment recovery and open arrears."""

    base_queryset = Invoice.objects.all()
    pagination_class = None  # a report is one answer, not a page of a list

    @extend_schema(
        parameters=[s.RecoveryQuerySerializer], responses={200: s.RecoveryRowSerializer(many=True)}
    )
    @action(detail=False, methods=["get"])
    def recovery(self, request: Request) -> Response:
        """By month of the first failure and decline code: failed and recovered counts and
        amounts, and the rates. Default: the last twelve months."""
        query = s.RecoveryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            first, until = months_span(
                first=month_first(data["from"]) if data.get("from") else None,
                last=month_first(data["to"]) if data.get("to") else None,
                today=organization_today(clock=SystemClock(), organization_id=self.organization_id),
            )
        except ValueError:
            raise serializers.ValidationError({"from": "must not be after 'to'"}) from None
        rows = recovery_by_month(
            organization_id=self.organization_id,
            first=first,
            until=until,
            by_code=not query.validated_data["totals"],
        )
        return Response(s.RecoveryRowSerializer(rows, many=True).data)

    @extend_schema(parameters=[s.ArrearsQuerySerializer], responses={200: s.ArrearsSerializer})
    @action(detail=False, methods=["get"])
    def arrears(self, request: Request) -> Response:
        """Overdue invoices by days overdue and by payer."""
        query = s.ArrearsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or organization_today(
            clock=SystemClock(), organization_id=self.organization_id
        )
        report = arrears_aging(organization_id=self.organization_id, as_of=as_of)
        return Response(s.ArrearsSerializer(report).data)


class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):
    """Where the gym's other tools receive events. The signing secret is shown once, in
    the answer to the create (and to a rotation)."""

    base_queryset = WebhookEndpoint.objects.all()
    serializer_class = s.WebhookEndpointSerializer

    @extend_schema(
        request=s.WebhookEndpointSerializer, responses={201: s.WebhookEndpointCreatedSerializer}
    )
    def create(self, request: Request) -> Response:
        data = _validated(s.WebhookEndpointSerializer, request, self)
        endpoint = endpoint_create(
            organization_id=self.organization_id,
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
            clock=SystemClock(),
        )
        return self.respond(s.WebhookEndpointCreatedSerializer, endpoint, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.WebhookEndpointSerializer, responses={200: s.WebhookEndpointSerializer}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        serializer = s.WebhookEndpointSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoint_update(
            endpoint=self.get_object(), clock=SystemClock(), **serializer.validated_data
        )
        return self.respond(s.WebhookEndpointSerializer, endpoint, status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: s.WebhookEndpointCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new signing secret; the old one stops at once."""
        endpoint = endpoint_update(
            endpoint=self.get_object(), clock=SystemClock(), rotate_secret=True
        )
        return self.respond(s.WebhookEndpointCreatedSerializer, endpoint, status.HTTP_200_OK)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The delivery log: every event sent to an endpoint, with each attempt."""

    base_queryset = WebhookDelivery.objects.select_related("event").prefetch_related("log")
    serializer_class = s.WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().order_by("-id")

    @extend_schema(request=None, responses={200: s.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Send this delivery again now."""
        delivery = delivery_replay(delivery=self.get_object(), clock=SystemClock())
        return self.respond(s.WebhookDeliverySerializer, delivery, status.HTTP_200_OK)
