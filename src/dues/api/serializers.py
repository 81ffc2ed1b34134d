"""Input validation at the edge (strict money, real dates, ids resolved within the caller's
organization) and the read shapes of API v1. Writes go through the domain services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dues.api.models import ApiKey
from dues.billing.models import (
    CreditNote,
    Freeze,
    Invoice,
    InvoiceLine,
    Subscription,
)
from dues.catalog.models import Interval, Plan, TaxCategory
from dues.core.channels import Channel
from dues.core.models import Location
from dues.core.money import MAX_MINOR_AMOUNT, MoneyError, validate_amount, validate_currency
from dues.dunning.models import (
    DunningPolicy,
    Experiment,
    ExperimentVariant,
    FinalAction,
    LateFeeKind,
    RetryMode,
    Tone,
)
from dues.dunning.services import POLICY_FIELDS
from dues.members.models import Member
from dues.payments.models import Payment, PaymentMethod, Refund
from dues.webhooks.models import (
    DELIVERY_FIELDS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


def organization_id(context: Mapping[str, Any]) -> int:
    request = context["request"]
    assert isinstance(request.auth, ApiKey)
    return int(request.auth.organization_id)


# --- fields -------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": MAX_MINOR_AMOUNT,
        "description": "Minor units of the currency (öre, cents).",
    }
)
class MoneyField(serializers.Field[int, Any, int, Any]):
    """An integer amount in minor units: no strings, floats or booleans, within bounds."""

    def __init__(self, *, allow_zero: bool = True, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        try:
            return validate_amount(data, allow_zero=self.allow_zero, field=self.field_name or "")
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: int) -> int:
        return int(value)


@extend_schema_field({"type": "string", "minLength": 3, "maxLength": 3, "example": "SEK"})
class CurrencyField(serializers.Field[str, Any, str, Any]):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("currency must be an ISO 4217 code such as SEK")
        try:
            return validate_currency(data)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: str) -> str:
        return value


class OrgRelatedField(serializers.PrimaryKeyRelatedField[Any]):
    """An id resolved only within the caller's organization; anything else is "unknown X"."""

    def __init__(self, *, label_name: str, **kwargs: Any) -> None:
        self.label_name = label_name
        kwargs.setdefault(
            "error_messages",
            {
                "does_not_exist": f"unknown {label_name}",
                "incorrect_type": f"{label_name} must be an integer id",
                "required": f"{label_name} is required",
                "null": f"{label_name} is required",
            },
        )
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        assert queryset is not None
        return queryset.filter(organization_id=organization_id(self.context))

    def to_internal_value(self, data: Any) -> Model:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not data.isdigit():
            self.fail("incorrect_type", data_type="str")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


# --- members ------------------------------------------------------------------------


class TimelineEntrySerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(
        choices=["message", "payment_attempt", "restriction", "dunning_case", "dispute"]
    )
    summary = serializers.CharField()
    detail = serializers.DictField()


class MemberSerializer(serializers.ModelSerializer[Member]):
    class Meta:
        model = Member
        fields = [
            "id",
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "address",
            "language",
            "home_location",
            "payer",
            "status",
            "created_at",
        ]
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer[Any]):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    address = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=10, required=False, default="en")
    home_location = OrgRelatedField(
        label_name="location",
        queryset=Location.objects.all(),
        required=False,
        allow_null=True,
        default=None,
    )
    payer = OrgRelatedField(
        label_name="payer",
        queryset=Member.objects.all(),
        required=False,
        allow_null=True,
        default=None,
    )


class MemberUpdateSerializer(serializers.Serializer[Any]):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    address = serializers.CharField(required=False, allow_blank=True)
    language = serializers.CharField(max_length=10, required=False)


# --- plans --------------------------------------------------------------------------


class PlanSerializer(serializers.ModelSerializer[Plan]):
    price = MoneyField(read_only=True)
    joining_fee = MoneyField(read_only=True)
    freeze_fee = MoneyField(read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "code",
            "description",
            "interval",
            "currency",
            "price",
            "joining_fee",
            "minimum_term_periods",
            "notice_days",
            "trial_days",
            "freeze_fee",
            "tax_category",
            "locations",
            "sold_online",
            "active",
        ]
        read_only_fields = fields


class PlanCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    code = serializers.SlugField(max_length=60)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    interval = serializers.ChoiceField(choices=Interval.choices, default=Interval.MONTH)
    currency = CurrencyField()
    price = MoneyField()
    joining_fee = MoneyField(required=False, default=0)
    minimum_term_periods = serializers.IntegerField(
        min_value=0, max_value=120, required=False, default=0
    )
    notice_days = serializers.IntegerField(min_value=0, max_value=366, required=False, default=0)
    trial_days = serializers.IntegerField(min_value=0, max_value=366, required=False, default=0)
    freeze_fee = MoneyField(required=False, default=0)
    tax_category = serializers.ChoiceField(
        choices=TaxCategory.choices, default=TaxCategory.TRAINING
    )
    locations = OrgRelatedField(
        label_name="location", queryset=Location.objects.all(), many=True, required=False
    )
    sold_online = serializers.BooleanField(required=False, default=True)
    active = serializers.BooleanField(required=False, default=True)

    def validate_code(self, value: str) -> str:
        org_id = organization_id(self.context)
        if Plan.objects.filter(organization_id=org_id, code=value).exists():
            raise serializers.ValidationError("a plan with this code already exists")
        return value


# --- subscriptions ------------------------------------------------------------------


class FreezeSerializer(serializers.ModelSerializer[Freeze]):
    fee = MoneyField(read_only=True)

    class Meta:
        model = Freeze
        fields = ["id", "start_date", "end_date", "fee", "status", "reason", "created_at"]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    price = MoneyField(read_only=True)
    freezes = FreezeSerializer(many=True, read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "member",
            "payer",
            "plan",
            "location",
            "status",
            "interval",
            "currency",
            "price",
            "start_date",
            "trial_end",
            "billing_anchor_day",
            "next_billing_date",
            "current_period_start",
            "current_period_end",
            "minimum_term_end",
            "cancel_at",
            "cancelled_at",
            "cancel_reason",
            "pending_plan",
            "freezes",
            "created_at",
        ]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer[Any]):
    member = OrgRelatedField(label_name="member", queryset=Member.objects.all())
    plan = OrgRelatedField(label_name="plan", queryset=Plan.objects.all())
    location = OrgRelatedField(label_name="location", queryset=Location.objects.all())
    start_date = serializers.DateField()
    billing_anchor_day = serializers.IntegerField(
        min_value=1, max_value=31, required=False, allow_null=True, default=None
    )


class SubscriptionFreezeSerializer(serializers.Serializer[Any]):
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text="First day the membership is active again.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SubscriptionCancelSerializer(serializers.Serializer[Any]):
    immediately = serializers.BooleanField(required=False, default=False)
    refund_unused = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["refund_unused"] and not attrs["immediately"]:
            raise serializers.ValidationError(
                {"refund_unused": "only an immediate cancellation refunds the unused part"}
            )
        return attrs


class SubscriptionChangePlanSerializer(serializers.Serializer[Any]):
    plan = OrgRelatedField(label_name="plan", queryset=Plan.objects.all())
    at_period_end = serializers.BooleanField(required=False, allow_null=True, default=None)


# --- invoices and credit notes ------------------------------------------------------


class InvoiceLineSerializer(serializers.ModelSerializer[InvoiceLine]):
    kind = serializers.CharField(
        read_only=True, help_text="plan, proration, joining_fee, addon, freeze_fee, fee, charge"
    )
    total_amount = serializers.IntegerField(read_only=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "kind",
            "description",
            "subscription",
            "period_start",
            "period_end",
            "quantity",
            "unit_amount",
            "discount_amount",
            "tax_rate_bp",
            "net_amount",
            "tax_amount",
            "total_amount",
            "revenue_category",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "payer",
            "location",
            "status",
            "currency",
            "subtotal",
            "tax",
            "total",
            "credit_applied",
            "amount_paid",
            "amount_credited",
            "amount_due",
            "issue_date",
            "due_date",
            "finalised_at",
            "paid_at",
            "lines",
            "created_at",
        ]
        read_only_fields = fields


class InvoiceVoidSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=200, required=False, default="voided")


class InvoicePaySerializer(serializers.Serializer[Any]):
    amount = MoneyField(allow_zero=False)
    method = serializers.ChoiceField(choices=[("cash", "Cash"), ("terminal", "Card terminal")])
    reference = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class CreditNoteSerializer(serializers.ModelSerializer[CreditNote]):
    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "payer",
            "currency",
            "subtotal",
            "tax",
            "total",
            "applied_amount",
            "credit_amount",
            "refund_amount",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class CreditNoteCreateSerializer(serializers.Serializer[Any]):
    invoice = OrgRelatedField(label_name="invoice", queryset=Invoice.objects.all())
    amount = MoneyField(allow_zero=False)
    reason = serializers.CharField(max_length=200)


# --- payments -----------------------------------------------------------------------


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    class Meta:
        model = Payment
        fields = [
            "id",
            "payer",
            "invoice",
            "method",
            "amount",
            "amount_refunded",
            "currency",
            "reference",
            "received_at",
        ]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer[Refund]):
    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "credit_note",
            "amount",
            "currency",
            "reason",
            "status",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class RefundCreateSerializer(serializers.Serializer[Any]):
    payment = OrgRelatedField(label_name="payment", queryset=Payment.objects.all())
    amount = MoneyField(allow_zero=False)
    reason = serializers.CharField(max_length=200)


class PaymentMethodSerializer(serializers.ModelSerializer[PaymentMethod]):
    class Meta:
        model = PaymentMethod
        fields = [
            "id",
            "payer",
            "kind",
            "gateway",
            "brand",
            "last4",
            "exp_month",
            "exp_year",
            "is_default",
            "status",
            "created_at",
        ]
        read_only_fields = fields


# Card data that must never reach us: the client tokenises with the gateway first.
FORBIDDEN_CARD_FIELDS = ("number", "card_number", "pan", "cvc", "cvv")


class PaymentMethodCreateSerializer(serializers.Serializer[Any]):
    payer = OrgRelatedField(label_name="payer", queryset=Member.objects.all())
    token = serializers.CharField(max_length=120, help_text="The gateway's token for the card.")
    kind = serializers.ChoiceField(choices=PaymentMethod.Kind.choices, default="card")
    brand = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    last4 = serializers.RegexField(r"^[0-9]{4}$", max_length=4)
    exp_month = serializers.IntegerField(min_value=1, max_value=12, required=False, default=None)
    exp_year = serializers.IntegerField(
        min_value=2000, max_value=2100, required=False, default=None
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        sent = [name for name in FORBIDDEN_CARD_FIELDS if hasattr(data, "keys") and name in data]
        if sent:
            raise serializers.ValidationError(
                {
                    name: ["card numbers and codes are never accepted; send the gateway's token"]
                    for name in sent
                }
            )
        return super().to_internal_value(data)  # type: ignore[no-any-return]


# --- dunning policies --------------------------------------------------------------------


class ReminderStepSerializer(serializers.Serializer[Any]):
    day_offset = serializers.IntegerField(min_value=0, max_value=365)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), allow_empty=False
    )
    tone = serializers.ChoiceField(choices=Tone.choices)


class DunningPolicySerializer(serializers.ModelSerializer[DunningPolicy]):
    steps = ReminderStepSerializer(many=True, read_only=True)

    class Meta:
        model = DunningPolicy
        fields = ["id", "plan", *POLICY_FIELDS, "steps", "created_at", "updated_at"]
        read_only_fields = fields


class DunningPolicyWriteSerializer(serializers.Serializer[Any]):
    """Every field optional on update; money (``late_fee_amount``) in minor units."""

    plan = serializers.IntegerField(required=False, allow_null=True)
    name = serializers.CharField(max_length=100, required=False)
    grace_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    retry_mode = serializers.ChoiceField(choices=RetryMode.choices, required=False)
    retry_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=365), required=False
    )
    max_attempts = serializers.IntegerField(min_value=1, max_value=50, required=False)
    max_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    final_action = serializers.ChoiceField(choices=FinalAction.choices, required=False)
    block_bookings_after_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, allow_null=True
    )
    block_access_after_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, allow_null=True
    )
    cancel_after_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, allow_null=True
    )
    late_fee_kind = serializers.ChoiceField(choices=LateFeeKind.choices, required=False)
    late_fee_amount = serializers.IntegerField(
        min_value=0, max_value=MAX_MINOR_AMOUNT, required=False
    )
    late_fee_currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    late_fee_bp = serializers.IntegerField(min_value=0, max_value=10000, required=False)
    late_fee_after_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    card_expiry_notice_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=90), required=False
    )
    renewal_notice_days = serializers.IntegerField(
        min_value=1, max_value=90, required=False, allow_null=True
    )
    risk_notice_bp = serializers.IntegerField(
        min_value=1, max_value=10000, required=False, allow_null=True
    )
    risk_notice_days = serializers.IntegerField(min_value=1, max_value=30, required=False)
    steps = ReminderStepSerializer(many=True, required=False)

    def validate_late_fee_currency(self, value: str) -> str:
        if not value:
            return value
        try:
            return validate_currency(value.upper())
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ExperimentVariantSerializer(serializers.ModelSerializer[ExperimentVariant]):
    class Meta:
        model = ExperimentVariant
        fields = ["key", "weight", "retry_mode", "retry_days", "max_attempts", "reminder_style"]
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer[Experiment]):
    variants = ExperimentVariantSerializer(many=True, read_only=True)

    class Meta:
        model = Experiment
        fields = ["id", "policy", "name", "hypothesis", "started_at", "stopped_at", "variants"]
        read_only_fields = fields


class VariantResultSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    decided = serializers.IntegerField(help_text="Cases recovered or ended without payment.")
    recovered = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Cases still in dunning or on a plan.")
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, lower end.")
    high = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, upper end.")


def _rate() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True, help_text="0 to 1; null if none failed."
    )


class RecoveryQuerySerializer(serializers.Serializer[Any]):
    from_ = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="First month, YYYY-MM."
    )
    to = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="Last month, YYYY-MM."
    )
    totals = serializers.BooleanField(
        required=False, default=False, help_text="One row per month and currency."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword
        return fields


class RecoveryRowSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="Month of the first failure (local), YYYY-MM.")
    currency = serializers.CharField()
    decline_code = serializers.CharField(help_text="Of the first failed charge; * in totals.")
    failed_invoices = serializers.IntegerField()
    failed_amount = serializers.IntegerField(help_text="Minor units.")
    recovered_invoices = serializers.IntegerField(help_text="Paid in full since.")
    recovered_amount = serializers.IntegerField(help_text="Minor units collected since.")
    recovery_rate = _rate()
    recovered_amount_rate = _rate()


class ArrearsQuerySerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField(required=False, help_text="Default: the organization's today.")


class AgingRowSerializer(serializers.Serializer[Any]):
    bucket = serializers.CharField(help_text="Days overdue: 1-30, 31-60, 61-90 or 91+.")
    currency = serializers.CharField()
    invoices = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Minor units.")


class OverduePayerSerializer(serializers.Serializer[Any]):
    payer_id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    invoices = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Minor units.")
    oldest_due = serializers.DateField()
    days_overdue = serializers.IntegerField()
    in_dunning = serializers.BooleanField()


class ArrearsSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField()
    buckets = AgingRowSerializer(many=True)
    payers = OverduePayerSerializer(many=True, help_text="Largest amount first.")


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    event_types = serializers.ListField(
        child=serializers.CharField(), help_text='Event types, or ["*"] for all.'
    )

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "created_at",
        )
        read_only_fields: tuple[str, ...] = ("id", "created_at")


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = (*WebhookEndpointSerializer.Meta.read_only_fields, "secret")


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = ("started_at", "duration_ms", "status_code", "error", "response_body")


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    event_type = serializers.CharField(source="event.topic", read_only=True)
    log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ("id", "event_type", *DELIVERY_FIELDS, "log")
