"""Every admin page loads, searches and refuses what it must refuse.

Rows are made with the plain ORM (services are not used here), one of each model, so
every changelist, search and change page renders at least one real row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from dues.access.models import AccessDecision, AccessDevice, Credential, VisitPack
from dues.api.models import ApiKey, IdempotentRequest
from dues.billing.models import (
    ContractSignature,
    CreditNote,
    CreditNoteLine,
    Freeze,
    Invoice,
    InvoiceLine,
    MemberCreditEntry,
    Restriction,
    Subscription,
    SubscriptionAddOn,
)
from dues.catalog.models import AddOn, Contract, ContractVersion, Coupon, Plan, TaxRate
from dues.core.crypto import secret_open, secret_seal
from dues.core.models import Location, Organization, OutboxDelivery, OutboxEvent, Sequence
from dues.crm.models import Task
from dues.dunning.models import (
    DunningCase,
    DunningPolicy,
    Experiment,
    ExperimentVariant,
    Instalment,
    Payday,
    PaymentPlan,
    PreDunningDay,
    PreNotice,
    ReminderStep,
    RiskScore,
)
from dues.ledger.models import Account, JournalEntry, JournalLine
from dues.members.models import (
    ConsentChange,
    EmergencyContact,
    Member,
    MemberNote,
    MemberStatusChange,
)
from dues.notify.models import Message, TemplateOverride
from dues.payments.models import (
    Dispute,
    GatewayAccount,
    GatewayCustomer,
    GatewayEvent,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    SandboxCharge,
)
from dues.staff.models import StaffAction, StaffChange, StaffRole
from dues.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
REGISTERED_IDS = [model._meta.label for model, _ in REGISTERED]
DUES_MODELS = [model for model, _ in REGISTERED if model._meta.app_label != "auth"]

# Rows that record money or machinery: nobody adds, changes or deletes them in the admin.
READ_ONLY = [
    Sequence,
    WebhookAttempt,
    OutboxEvent,
    OutboxDelivery,
    MemberStatusChange,
    Subscription,
    SubscriptionAddOn,
    Freeze,
    InvoiceLine,
    CreditNote,
    CreditNoteLine,
    MemberCreditEntry,
    PaymentMethod,
    PaymentAttempt,
    Payment,
    Refund,
    SandboxCharge,
    ContractSignature,
    GatewayCustomer,
    GatewayEvent,
    Dispute,
    JournalEntry,
    JournalLine,
    IdempotentRequest,
    DunningCase,
    Instalment,
    RiskScore,
    PreNotice,
    PreDunningDay,
    ExperimentVariant,
]
NO_DELETE = [
    *READ_ONLY,
    Invoice,
    Account,
    ApiKey,
    Restriction,
    Message,
    PaymentPlan,
    Experiment,
    WebhookDelivery,
    GatewayAccount,
    Task,
]

# The world's Stripe keys: they must never appear on a page.
SECRET_KEY = "sk_test_51Hworld0000secret9876"
WEBHOOK_SECRET = "whsec_world0000signing5432"


def url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """``admin_user`` hashes a password per test; the real hasher costs ~0.5 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    org: Organization
    other_org: Organization
    location: Location
    payer: Member
    plan: Plan
    draft: Invoice
    invoice: Invoice
    payment_method: PaymentMethod
    api_key: ApiKey
    gateway_account: GatewayAccount
    task: Task


@pytest.fixture
def world(db: None) -> World:
    now = timezone.now()
    today = now.date()
    org = Organization.objects.create(name="Iron Gym", slug="iron", created_at=now)
    other_org = Organization.objects.create(name="Other Gym", slug="other", created_at=now)
    location = Location.objects.create(
        organization=org,
        name="Centrum",
        timezone="Europe/Stockholm",
        currency="SEK",
        locale="sv",
        country="SE",
    )
    Location.objects.create(
        organization=other_org, name="Far away", timezone="UTC", currency="EUR", country="FR"
    )
    Sequence.objects.create(organization=org, name="invoice", next_value=2)

    payer = Member.objects.create(
        organization=org,
        first_name="Anna",
        last_name="Svensson",
        email="anna@example.com",
        phone="+46701234567",
        member_number="M000001",
        home_location=location,
        status="active",
        created_at=now,
    )
    Member.objects.create(
        organization=org,
        first_name="Elsa",
        last_name="Svensson",
        member_number="M000002",
        payer=payer,
        created_at=now,
    )
    EmergencyContact.objects.create(
        organization=org, member=payer, name="Erik", relationship="partner", phone="+4670999"
    )
    MemberNote.objects.create(organization=org, member=payer, text="Knee injury", created_at=now)
    desk = get_user_model().objects.create(username="kim", password="!")
    StaffRole.objects.create(organization=org, user=desk, role="front_desk", created_at=now)
    StaffAction.objects.create(
        organization=org, user=desk, member=payer, action="note_add", detail={}, at=now
    )
    StaffChange.objects.create(
        organization=org,
        user=desk,
        action="catalog_edit",
        target="catalog.plan:1",
        summary="Monthly: price 499.00 to 549.00",
        before={"price": 49900},
        after={"price": 54900},
        at=now,
    )
    ConsentChange.objects.create(
        organization=org,
        member=payer,
        channel="email",
        granted=True,
        source="staff",
        changed_by="kim",
        wording_version="paper-2026",
        changed_at=now,
    )
    MemberStatusChange.objects.create(
        organization=org, member=payer, from_status="prospect", to_status="active", changed_at=now
    )

    TaxRate.objects.create(
        organization=org, location=location, category="training", name="Moms", rate_bp=600
    )
    plan = Plan.objects.create(
        organization=org,
        name="Monthly",
        code="monthly",
        currency="SEK",
        price=49900,
        joining_fee=19900,
    )
    plan.locations.add(location)
    addon = AddOn.objects.create(
        organization=org, name="PT pack", code="pt", kind="pack", currency="SEK", price=99900
    )
    Coupon.objects.create(
        organization=org, code="SPRING", name="Spring", kind="percent", percent_bp=1000
    )
    contract = Contract.objects.create(organization=org, name="Membership agreement", code="m")
    version = ContractVersion.objects.create(
        organization=org,
        contract=contract,
        version=1,
        language="sv",
        title="Medlemsavtal",
        body="Villkor.",
        published_at=now,
    )
    ContractSignature.objects.create(
        organization=org,
        member=payer,
        plan=plan,
        location=location,
        contract_version=version,
        language="sv",
        title="Medlemsavtal",
        text="Villkor.",
        text_sha256="0" * 64,
        typed_name="Anna Svensson",
        signed_at=now,
        ip_address="192.0.2.1",
    )

    subscription = Subscription.objects.create(
        organization=org,
        member=payer,
        payer=payer,
        plan=plan,
        location=location,
        status="active",
        interval="month",
        currency="SEK",
        price=49900,
        start_date=today,
        billing_anchor_day=today.day,
        anchor_date=today,
        next_billing_date=today + timedelta(days=30),
        created_at=now,
    )
    SubscriptionAddOn.objects.create(
        organization=org, subscription=subscription, addon=addon, unit_price=99900
    )
    Freeze.objects.create(
        organization=org,
        subscription=subscription,
        start_date=today + timedelta(days=40),
        end_date=today + timedelta(days=54),
        fee=5000,
        created_at=now,
    )

    draft = Invoice.objects.create(
        organization=org, payer=payer, location=location, currency="SEK", created_at=now
    )
    invoice = Invoice.objects.create(
        organization=org,
        number="INV-1",
        sequence_number=1,
        payer=payer,
        location=location,
        status="open",
        currency="SEK",
        subtotal=47075,
        tax=2825,
        total=49900,
        amount_credited=5000,
        amount_due=44900,
        issue_date=today,
        due_date=today,
        finalised_at=now,
        created_at=now,
    )
    line = InvoiceLine.objects.create(
        organization=org,
        invoice=invoice,
        kind="plan",
        description="Monthly membership",
        subscription=subscription,
        period_start=today,
        period_end=today + timedelta(days=30),
        unit_amount=49900,
        tax_rate_bp=600,
        net_amount=47075,
        tax_amount=2825,
        revenue_category="membership",
    )
    credit_note = CreditNote.objects.create(
        organization=org,
        number="CN-1",
        sequence_number=1,
        invoice=invoice,
        payer=payer,
        currency="SEK",
        subtotal=4717,
        tax=283,
        total=5000,
        applied_amount=5000,
        reason="Goodwill",
        created_at=now,
    )
    CreditNoteLine.objects.create(
        organization=org,
        credit_note=credit_note,
        invoice_line=line,
        net_amount=4717,
        tax_amount=283,
    )
    MemberCreditEntry.objects.create(
        organization=org,
        payer=payer,
        currency="SEK",
        amount=1000,
        kind="adjustment",
        created_at=now,
    )

    payment_method = PaymentMethod.objects.create(
        organization=org,
        payer=payer,
        token="tok_visa_abc",
        brand="Visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        is_default=True,
        created_at=now,
        updated_at=now,
    )
    attempt = PaymentAttempt.objects.create(
        organization=org,
        invoice=invoice,
        payment_method=payment_method,
        attempt_number=1,
        idempotency_key=f"inv_{invoice.pk}_1",
        amount=44900,
        currency="SEK",
        status="succeeded",
        gateway_reference="sbx_ch_1",
        created_at=now,
        completed_at=now,
    )
    payment = Payment.objects.create(
        organization=org,
        payer=payer,
        invoice=invoice,
        attempt=attempt,
        method="card",
        amount=44900,
        currency="SEK",
        gateway_reference="sbx_ch_1",
        reference="RCPT-77",
        received_at=now,
    )
    Refund.objects.create(
        organization=org,
        payment=payment,
        amount=1000,
        currency="SEK",
        reason="Overcharge",
        idempotency_key="refund_1",
        created_at=now,
    )
    SandboxCharge.objects.create(
        idempotency_key=attempt.idempotency_key,
        token="tok_visa_abc",
        amount=44900,
        currency="SEK",
        succeeded=True,
        reference="sbx_ch_1",
        created_at=now,
    )
    GatewayCustomer.objects.create(
        organization=org, payer=payer, gateway="stripe", reference="cus_Anna123", created_at=now
    )
    gateway_account = GatewayAccount.objects.create(
        organization=org,
        publishable_key="pk_test_world",
        secret_key_sealed=secret_seal(SECRET_KEY),
        webhook_secret_sealed=secret_seal(WEBHOOK_SECRET),
        updated_at=now,
    )
    GatewayEvent.objects.create(
        gateway="stripe",
        event_id="evt_1Dispute",
        endpoint=org.slug,
        type="charge.dispute.created",
        created=now,
        payload={"id": "evt_1Dispute", "data": {"object": {"id": "dp_1Anna"}}},
        received_at=now,
        outcome="dispute needs_response",
    )
    dispute = Dispute.objects.create(
        organization=org,
        payment=payment,
        reference="dp_1Anna",
        amount=44900,
        currency="SEK",
        reason="fraudulent",
        status="needs_response",
        gateway_status="needs_response",
        evidence_due_by=now + timedelta(days=7),
        opened_at=now,
        gateway_updated_at=now,
    )
    task = Task.objects.create(
        organization=org,
        member=payer,
        kind="dispute_response",
        title="Answer dispute dp_1Anna (fraudulent) before the deadline",
        detail={"dispute_id": dispute.pk, "evidence": {"invoice": {"number": "INV-1"}}},
        due_at=dispute.evidence_due_by,
        source_type="dispute",
        source_id=dispute.pk,
        created_at=now,
    )

    receivable = Account.objects.create(
        organization=org, code="1100", name="Receivable", type="asset"
    )
    revenue = Account.objects.create(organization=org, code="4000", name="Revenue", type="income")
    entry = JournalEntry.objects.create(
        organization=org,
        kind="invoice_finalised",
        source_type="invoice",
        source_id=invoice.pk,
        memo="INV-1",
        posted_at=now,
    )
    JournalLine.objects.create(
        organization=org,
        entry=entry,
        account=receivable,
        member=payer,
        currency="SEK",
        amount=49900,
    )
    JournalLine.objects.create(
        organization=org, entry=entry, account=revenue, currency="SEK", amount=-49900
    )

    api_key = ApiKey.objects.create(
        organization=org,
        name="Zapier",
        prefix="dk_abcd1234",
        secret_hash=ApiKey.hash_secret("dk_abcd1234.s3cret"),
        created_at=now,
    )
    IdempotentRequest.objects.create(
        organization=org,
        key="req-1",
        method="POST",
        path="/api/v1/members/",
        request_hash="0" * 64,
        status_code=201,
        response_body={"id": 1},
        created_at=now,
    )
    event = OutboxEvent.objects.create(
        organization=org,
        topic="member.created",
        aggregate_type="member",
        aggregate_id=payer.pk,
        payload={"member_id": payer.pk},
        created_at=now,
    )
    OutboxDelivery.objects.create(event=event, consumer="crm", delivered_at=now)
    endpoint = WebhookEndpoint.objects.create(
        organization=org,
        url="https://books.example.com/hooks",
        secret="whsec_test",
        event_types=["member.created"],
        created_at=now,
        updated_at=now,
    )
    delivery = WebhookDelivery.objects.create(
        organization=org, endpoint=endpoint, event=event, status="failed", attempts=1,
        last_error="answered 500", created_at=now,
    )  # fmt: skip
    WebhookAttempt.objects.create(
        organization=org, delivery=delivery, started_at=now, duration_ms=12, status_code=500
    )
    Group.objects.create(name="Front desk")

    policy = DunningPolicy.objects.create(
        organization=org, name="Default dunning", created_at=now, updated_at=now
    )
    ReminderStep.objects.create(
        organization=org, policy=policy, day_offset=3, channels=["email"], tone="friendly"
    )
    Payday.objects.create(organization=org, location=location, days=[25])
    DunningCase.objects.create(
        organization=org,
        invoice=invoice,
        payer=payer,
        policy=policy,
        opened_at=now,
        first_failed_at=now,
        first_failed_on=today,
        last_attempt_at=now,
        last_decline_code="insufficient_funds",
    )
    Restriction.objects.create(
        organization=org,
        subscription=subscription,
        kind="bookings",
        source="dunning",
        reason="Invoice INV-1 unpaid for 7 days",
        starts_at=now,
    )
    payment_plan = PaymentPlan.objects.create(
        organization=org, payer=payer, currency="SEK", total=44900, created_at=now
    )
    Instalment.objects.create(
        organization=org, plan=payment_plan, number=1, due_on=today, amount=44900
    )
    RiskScore.objects.create(
        organization=org,
        payer=payer,
        score_bp=4200,
        reasons=["several charges declined in the last year"],
        charge_on=today,
        computed_at=now,
    )
    PreNotice.objects.create(
        organization=org, payer=payer, kind="card_expiring", key="card 1 30d", created_at=now
    )
    PreDunningDay.objects.create(organization=org, ran_on=today)
    experiment = Experiment.objects.create(
        organization=org, policy=policy, name="Direct text", started_at=now
    )
    for key, style in (("control", "standard"), ("direct", "direct")):
        ExperimentVariant.objects.create(
            organization=org, experiment=experiment, key=key, reminder_style=style
        )
    DunningCase.objects.filter(organization=org).update(experiment=experiment, variant="direct")
    for channel, status in (("email", "sent"), ("call", "open")):
        Message.objects.create(
            organization=org,
            member=payer,
            channel=channel,
            template="dunning/reminder_firm",
            language="sv",
            to="anna@example.se" if channel == "email" else "+46701234567",
            subject="Påminnelse: faktura INV-1 är förfallen",
            body="Hej Anna!",
            status=status,
            invoice_id=invoice.pk,
            created_at=now,
        )
    TemplateOverride.objects.create(
        organization=org,
        template="dunning/reminder",
        part="subject",
        language="sv",
        body="Påminnelse från {{ gym }}: faktura {{ invoice_number }}",
        updated_at=now,
        updated_by=desk,
    )

    _classes_rows(org, location, payer, plan, now)
    _access_rows(org, location, payer, subscription, now)

    return World(
        org,
        other_org,
        location,
        payer,
        plan,
        draft,
        invoice,
        payment_method,
        api_key,
        gateway_account,
        task,
    )


class _FormFields(HTMLParser):
    """The fields a browser would submit from the admin's change form, as rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._in_form = a.get("id", "").endswith("_form")
        if not self._in_form or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a["name"], a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(a["name"], "")

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_data(client: Any, page: str, **changes: str | list[str]) -> dict[str, Any]:
    response = client.get(page)
    assert response.status_code == 200
    parser = _FormFields()
    parser.feed(response.content.decode())
    data: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in parser.data.items()}
    data.update(changes)
    data["_save"] = "Save"
    return data


def admin_request(admin_user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    return request


# --- every registered admin ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_changelist_search_and_add_pages_load(
    admin_client: Any, admin_user: Any, world: World, model: Any, model_admin: Any
) -> None:
    changelist = admin_client.get(url(model, "changelist"))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1

    assert admin_client.get(url(model, "changelist"), {"q": "x"}).status_code == 200

    can_add = model_admin.has_add_permission(admin_request(admin_user))
    assert admin_client.get(url(model, "add")).status_code == (200 if can_add else 403)


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_change_page_of_a_row_loads(
    admin_client: Any, world: World, model: Any, model_admin: Any
) -> None:
    for obj in model._default_manager.all():
        assert admin_client.get(url(model, "change", obj.pk)).status_code == 200


def test_every_dues_model_is_registered() -> None:
    from django.apps import apps

    ours = {m for m in apps.get_models() if m.__module__.startswith("dues.")}
    assert ours == set(DUES_MODELS)


def test_site_header() -> None:
    assert str(admin.site.site_header) == "Dues administration"


# --- search finds what staff type ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "query"),
    [
        (Member, "M000001"),
        (Member, "anna@example"),
        (Member, "Anna Svensson"),
        (Member, "+4670123"),
        (Invoice, "INV-1"),
        (Invoice, "Svensson"),
        (Subscription, "M000001"),
        (CreditNote, "CN-1"),
        (Payment, "RCPT-77"),
        (Payment, "sbx_ch_1"),
        (PaymentAttempt, "sbx_ch_1"),
        (Refund, "refund_1"),
        (PaymentMethod, "4242"),
        (JournalLine, "Svensson"),
        (OutboxEvent, "member.created"),
        (ApiKey, "dk_abcd"),
        (GatewayCustomer, "cus_Anna123"),
        (GatewayCustomer, "Svensson"),
        (GatewayEvent, "evt_1Dispute"),
        (GatewayEvent, "charge.dispute"),
        (Dispute, "dp_1Anna"),
        (Dispute, "RCPT-77"),
        (Dispute, "M000001"),
        (Task, "dp_1Anna"),
        (Task, "Svensson"),
    ],
)
def test_search_finds_the_row(admin_client: Any, world: World, model: Any, query: str) -> None:
    response = admin_client.get(url(model, "changelist"), {"q": query})
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.django_db
def test_search_by_number_on_integer_fields(admin_client: Any, world: World) -> None:
    response = admin_client.get(url(JournalEntry, "changelist"), {"q": str(world.invoice.pk)})
    assert response.context["cl"].result_count == 1


# --- money is shown formatted, and money rows stay read-only ---------------------------------


@pytest.mark.django_db
def test_money_is_formatted_in_lists(admin_client: Any, world: World) -> None:
    assert "SEK499.00" in admin_client.get(url(Plan, "changelist")).content.decode()
    page = admin_client.get(url(Invoice, "changelist")).content.decode()
    assert "SEK449.00" in page  # amount due
    page = admin_client.get(url(JournalLine, "changelist")).content.decode()
    assert page.count("SEK499.00") == 2  # once as a debit, once as a credit


@pytest.mark.django_db
@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_read_only_rows_refuse_changes(admin_client: Any, world: World, model: Any) -> None:
    obj = model._default_manager.first()
    page = admin_client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert admin_client.post(url(model, "change", obj.pk), {}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("model", NO_DELETE, ids=lambda m: m.__name__)
def test_money_rows_cannot_be_deleted(admin_client: Any, world: World, model: Any) -> None:
    obj = model._default_manager.first()
    assert admin_client.get(url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_finalised_invoice_is_view_only(admin_client: Any, world: World) -> None:
    page = admin_client.get(url(Invoice, "change", world.invoice.pk))
    assert not page.context["has_change_permission"]
    assert 'name="due_date"' not in page.content.decode()
    assert "Monthly membership" in page.content.decode()  # the line inline
    assert "CN-1" in page.content.decode()  # the credit-note inline
    response = admin_client.post(
        url(Invoice, "change", world.invoice.pk), {"due_date": "2040-01-01"}
    )
    assert response.status_code == 403
    world.invoice.refresh_from_db()
    assert world.invoice.due_date != timezone.now().date().replace(year=2040)


@pytest.mark.django_db
def test_draft_invoice_due_date_can_move_but_not_its_money(admin_client: Any, world: World) -> None:
    page = url(Invoice, "change", world.draft.pk)
    data = form_data(admin_client, page, due_date="2040-01-31", total="999", status="paid")
    response = admin_client.post(page, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.draft.refresh_from_db()
    assert str(world.draft.due_date) == "2040-01-31"
    assert (world.draft.status, world.draft.total) == ("draft", 0)


@pytest.mark.django_db
def test_payment_method_never_shows_or_takes_card_data(admin_client: Any, world: World) -> None:
    assert admin_client.get(url(PaymentMethod, "add")).status_code == 403
    page = admin_client.get(url(PaymentMethod, "change", world.payment_method.pk)).content.decode()
    assert "Visa •••• 4242" in page
    assert "12/2030" in page
    fields = _FormFields()
    fields.feed(page)
    assert set(fields.data) == {"csrfmiddlewaretoken"}  # nothing a number could be typed into


@pytest.mark.django_db
def test_api_key_can_be_renamed_and_revoked_but_hash_is_read_only(
    admin_client: Any, world: World
) -> None:
    page = url(ApiKey, "change", world.api_key.pk)
    data = form_data(admin_client, page, name="Zapier (old)", secret_hash="f" * 64)
    data.pop("active", None)  # unchecked: revoked
    assert admin_client.post(page, data).status_code == 302
    key = ApiKey.objects.get(pk=world.api_key.pk)
    assert (key.name, key.active) == ("Zapier (old)", False)
    assert key.secret_hash == ApiKey.hash_secret("dk_abcd1234.s3cret")


# --- simple edits: members and catalog -----------------------------------------------------------


@pytest.mark.django_db
def test_member_added_with_contact_and_note(admin_client: Any, world: World) -> None:
    page = url(Member, "add")
    data = form_data(
        admin_client,
        page,
        first_name="Olle",
        last_name="Berg",
        email=" Olle@Example.com ",
        organization=str(world.org.pk),
        home_location=str(world.location.pk),
        **{
            "emergency_contacts-TOTAL_FORMS": "1",
            "emergency_contacts-0-name": "Mamma",
            "emergency_contacts-0-phone": "+46700000",
            "notes-TOTAL_FORMS": "1",
            "notes-0-text": "Wants a locker",
        },
    )
    response = admin_client.post(page, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member = Member.objects.get(last_name="Berg")
    assert member.email == "olle@example.com"
    assert member.status == "prospect"
    assert member.member_number == f"M{member.pk:06d}"
    assert member.created_at is not None
    contact = member.emergency_contacts.get()
    note = member.notes.get()
    assert contact.organization_id == note.organization_id == world.org.pk
    assert note.author == "admin"
    assert note.created_at is not None


@pytest.mark.django_db
def test_member_status_is_not_editable(admin_client: Any, world: World) -> None:
    page = url(Member, "change", world.payer.pk)
    data = form_data(admin_client, page, status="cancelled", first_name="Annie")
    assert admin_client.post(page, data).status_code == 302
    world.payer.refresh_from_db()
    assert (world.payer.first_name, world.payer.status) == ("Annie", "active")


@pytest.mark.django_db
def test_member_cannot_use_another_organizations_location(admin_client: Any, world: World) -> None:
    far = Location.objects.get(organization=world.other_org)
    page = url(Member, "change", world.payer.pk)
    response = admin_client.post(page, form_data(admin_client, page, home_location=str(far.pk)))
    assert response.status_code == 200
    assert "home_location" in response.context["adminform"].form.errors


@pytest.mark.django_db
def test_plan_price_is_typed_in_major_units(admin_client: Any, world: World) -> None:
    page = url(Plan, "add")
    data = form_data(
        admin_client,
        page,
        organization=str(world.org.pk),
        name="Yearly",
        code="yearly",
        currency="SEK",
        interval="year",
        price="4990.00",
        joining_fee="0",
        freeze_fee="99.50",
        locations=[str(world.location.pk)],
    )
    response = admin_client.post(page, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = Plan.objects.get(code="yearly")
    assert (plan.price, plan.joining_fee, plan.freeze_fee) == (499000, 0, 9950)

    edit = url(Plan, "change", plan.pk)
    assert form_data(admin_client, edit)["price"] == "4990.00"


@pytest.mark.django_db
def test_plan_price_refuses_sub_minor_amounts(admin_client: Any, world: World) -> None:
    page = url(Plan, "change", world.plan.pk)
    response = admin_client.post(page, form_data(admin_client, page, price="499.001"))
    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    world.plan.refresh_from_db()
    assert world.plan.price == 49900


@pytest.mark.django_db
def test_fixed_coupon_needs_a_currency(admin_client: Any, world: World) -> None:
    page = url(Coupon, "add")
    data = form_data(
        admin_client,
        page,
        organization=str(world.org.pk),
        code="TENOFF",
        name="Ten off",
        kind="fixed",
        percent_bp="0",
        amount_off="100",
        currency="",
    )
    response = admin_client.post(page, data)
    assert response.status_code == 200
    assert "currency" in response.context["adminform"].form.errors

    data["currency"] = "sek"
    assert admin_client.post(page, data).status_code == 302
    coupon = Coupon.objects.get(code="TENOFF")
    assert (coupon.amount_off, coupon.currency, coupon.percent_bp) == (10000, "SEK", 0)


@pytest.mark.django_db
def test_tax_rate_takes_its_organization_from_the_location(admin_client: Any, world: World) -> None:
    page = url(TaxRate, "add")
    data = form_data(
        admin_client,
        page,
        location=str(world.location.pk),
        category="goods",
        name="Moms varor",
        rate_bp="25",
    )
    assert admin_client.post(page, data).status_code == 302
    rate = TaxRate.objects.get(category="goods")
    assert (rate.organization_id, rate.rate_bp) == (world.org.pk, 2500)


@pytest.mark.django_db
def test_organization_add_stamps_created_at(admin_client: Any, world: World) -> None:
    page = url(Organization, "add")
    data = form_data(admin_client, page, name="New Gym", slug="new-gym", default_currency="eur")
    assert admin_client.post(page, data).status_code == 302
    org = Organization.objects.get(slug="new-gym")
    assert org.created_at is not None
    assert org.default_currency == "EUR"


# --- pages stay fast: no query per row ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", [Member, Subscription, Invoice, Payment, JournalLine], ids=lambda m: m.__name__
)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client: Any, world: World, model: Any, django_assert_max_num_queries: Any
) -> None:
    admin_client.get(url(model, "changelist"))  # warm caches (content types, session)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(url(model, "changelist"))

    now = timezone.now()
    for i in range(30):
        member = Member.objects.create(
            organization=world.org,
            first_name=f"M{i}",
            last_name="Many",
            home_location=world.location,
            created_at=now,
        )
        if model is Subscription:
            Subscription.objects.create(
                organization=world.org,
                member=member,
                payer=member,
                plan=world.plan,
                location=world.location,
                interval="month",
                currency="SEK",
                price=100,
                start_date=now.date(),
                billing_anchor_day=1,
                anchor_date=now.date(),
                created_at=now,
            )
        elif model in (Invoice, Payment, JournalLine):
            invoice = Invoice.objects.create(
                organization=world.org,
                payer=member,
                location=world.location,
                currency="SEK",
                created_at=now,
            )
            if model is Payment:
                Payment.objects.create(
                    organization=world.org,
                    payer=member,
                    invoice=invoice,
                    method="cash",
                    amount=100,
                    currency="SEK",
                    received_at=now,
                )
            if model is JournalLine:
                entry = JournalEntry.objects.create(
                    organization=world.org,
                    kind="test",
                    source_type="invoice",
                    source_id=invoice.pk,
                    posted_at=now,
                )
                JournalLine.objects.create(
                    organization=world.org,
                    entry=entry,
                    account=Account.objects.get(code="1100"),
                    member=member,
                    currency="SEK",
                    amount=100,
                )

    with django_assert_max_num_queries(len(one_row) + 1):
        response = admin_client.get(url(model, "changelist"))
    assert response.context["cl"].result_count > 30


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "field"),
    [(Member, "payer"), (EmergencyContact, "member"), (MemberNote, "member")],
    ids=["Member.payer", "EmergencyContact.member", "MemberNote.member"],
)
def test_member_pickers_are_autocompletes(
    admin_client: Any, world: World, model: Any, field: str
) -> None:
    page = admin_client.get(url(model, "add")).content.decode()
    assert f'name="{field}"' in page
    assert "admin-autocomplete" in page  # not a <select> of every member
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": model._meta.app_label,
            "model_name": model._meta.model_name,
            "field_name": field,
            "term": "M000001",
        },
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["Anna Svensson"]


@pytest.mark.django_db
def test_sent_message_is_view_only_and_call_task_closes_with_an_outcome(
    admin_client: Any, world: World
) -> None:
    email = Message.objects.get(channel="email")
    assert admin_client.post(url(Message, "change", email.pk), {}).status_code == 403
    call = Message.objects.get(channel="call")
    blank = admin_client.post(url(Message, "change", call.pk), {"outcome": "  "})
    assert blank.status_code == 200
    assert "Say what came of the call." in blank.content.decode()
    done = admin_client.post(url(Message, "change", call.pk), {"outcome": "Pays on Friday"})
    assert done.status_code == 302
    call.refresh_from_db()
    assert (call.status, call.outcome) == ("done", "Pays on Friday")
    assert call.done_at is not None
    assert admin_client.post(url(Message, "change", call.pk), {"outcome": "x"}).status_code == 403


@pytest.mark.django_db
def test_payment_plan_agreed_in_the_admin(admin_client: Any, world: World) -> None:
    case = DunningCase.objects.get()
    form = {"payer": world.payer.pk, "count": "2", "first_on": "2099-01-31", "every_months": "1"}
    resp = admin_client.post(url(PaymentPlan, "add"), form)
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    plan = PaymentPlan.objects.order_by("-id").first()
    assert plan is not None
    assert list(plan.instalments.values_list("due_on", "amount")) == [
        (date(2099, 1, 31), world.invoice.amount_due - world.invoice.amount_due // 2),
        (date(2099, 2, 28), world.invoice.amount_due // 2),
    ]
    case.refresh_from_db()
    assert case.status == "on_plan"
    again = admin_client.post(url(PaymentPlan, "add"), form)
    assert again.status_code == 200
    assert "no overdue invoice in dunning" in again.content.decode()


@pytest.mark.django_db
def test_experiment_shows_results_and_refuses_a_second_running_one(
    admin_client: Any, world: World
) -> None:
    experiment = Experiment.objects.get()
    page = admin_client.get(url(Experiment, "change", experiment.pk)).content.decode()
    assert "<td>direct</td><td>0</td><td>0</td><td>—</td><td>1</td>" in page
    form = {
        "policy": experiment.policy_id,
        "name": "Second",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "2",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-key": "a",
        "variants-0-weight": "1",
        "variants-0-reminder_style": "standard",
        "variants-1-key": "b",
        "variants-1-weight": "1",
        "variants-1-reminder_style": "direct",
    }
    refused = admin_client.post(url(Experiment, "add"), form)
    assert "This policy already has a running experiment." in refused.content.decode()
    admin_client.post(
        url(Experiment, "changelist"),
        {"action": "stop", "_selected_action": [experiment.pk]},
    )
    experiment.refresh_from_db()
    assert experiment.stopped_at is not None
    added = admin_client.post(url(Experiment, "add"), form)
    assert added.status_code == 302
    second = Experiment.objects.get(name="Second")
    assert sorted(second.variants.values_list("key", "organization_id")) == [
        ("a", world.org.pk),
        ("b", world.org.pk),
    ]


# --- gateway keys: typed in once, stored sealed, never shown again ------------------------------


@pytest.mark.django_db
def test_gateway_account_add_seals_the_keys(admin_client: Any, world: World) -> None:
    page = url(GatewayAccount, "add")
    data = form_data(
        admin_client,
        page,
        organization=str(world.other_org.pk),
        gateway="stripe",
        publishable_key="pk_test_other",
        secret_key="sk_test_other0000key1234",
        webhook_secret="whsec_other0000sig5678",
    )
    response = admin_client.post(page, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = GatewayAccount.objects.get(organization=world.other_org)
    assert account.publishable_key == "pk_test_other"
    assert account.updated_at is not None
    assert "sk_test_other0000key1234" not in account.secret_key_sealed
    assert "whsec_other0000sig5678" not in account.webhook_secret_sealed
    assert secret_open(account.secret_key_sealed) == "sk_test_other0000key1234"
    assert secret_open(account.webhook_secret_sealed) == "whsec_other0000sig5678"

    listing = admin_client.get(url(GatewayAccount, "changelist")).content.decode()
    assert "set (…1234)" in listing
    assert "set (…5678)" in listing
    assert "sk_test_other0000key1234" not in listing


@pytest.mark.django_db
def test_gateway_account_add_needs_a_secret_key_of_the_right_kind(
    admin_client: Any, world: World
) -> None:
    page = url(GatewayAccount, "add")
    data = form_data(admin_client, page, organization=str(world.other_org.pk), gateway="stripe")
    response = admin_client.post(page, data)
    assert response.status_code == 200
    assert "secret_key" in response.context["adminform"].form.errors
    data.update(secret_key="pk_test_oops", webhook_secret="sk_test_oops")
    response = admin_client.post(page, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"secret_key", "webhook_secret"} <= set(errors)
    assert "pk_test_oops" not in response.content.decode()  # not even rendered back
    assert not GatewayAccount.objects.filter(organization=world.other_org).exists()


@pytest.mark.django_db
def test_gateway_account_change_page_never_shows_the_secrets(
    admin_client: Any, world: World
) -> None:
    page = admin_client.get(url(GatewayAccount, "change", world.gateway_account.pk))
    html = page.content.decode()
    assert SECRET_KEY not in html
    assert WEBHOOK_SECRET not in html
    assert world.gateway_account.secret_key_sealed not in html
    assert world.gateway_account.webhook_secret_sealed not in html
    assert "set (…9876)" in html
    assert "set (…5432)" in html
    assert 'type="password"' in html
    fields = _FormFields()
    fields.feed(html)
    assert fields.data["secret_key"] == fields.data["webhook_secret"] == [""]
    assert "secret_key_sealed" not in fields.data
    assert "organization" not in fields.data  # fixed once chosen
    assert "gateway" not in fields.data


@pytest.mark.django_db
def test_gateway_account_blank_keys_on_change_keep_the_stored_ones(
    admin_client: Any, world: World
) -> None:
    account = world.gateway_account
    before = (account.secret_key_sealed, account.webhook_secret_sealed, account.updated_at)
    page = url(GatewayAccount, "change", account.pk)
    data = form_data(admin_client, page, publishable_key="pk_live_new")
    assert data["secret_key"] == data["webhook_secret"] == ""
    assert admin_client.post(page, data).status_code == 302
    account.refresh_from_db()
    assert account.publishable_key == "pk_live_new"
    assert (account.secret_key_sealed, account.webhook_secret_sealed) == before[:2]
    assert account.updated_at > before[2]

    data = form_data(admin_client, page, webhook_secret="whsec_rolled0000new1111")
    assert admin_client.post(page, data).status_code == 302
    account.refresh_from_db()
    assert secret_open(account.secret_key_sealed) == SECRET_KEY
    assert secret_open(account.webhook_secret_sealed) == "whsec_rolled0000new1111"


# --- staff tasks --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_task_shows_its_evidence_and_takes_a_new_title_and_due_date(
    admin_client: Any, world: World
) -> None:
    page = url(Task, "change", world.task.pk)
    html = admin_client.get(page).content.decode()
    assert "&quot;number&quot;: &quot;INV-1&quot;" in html  # the detail, pretty-printed
    fields = _FormFields()
    fields.feed(html)
    assert set(fields.data) == {"csrfmiddlewaretoken", "title", "due_at_0", "due_at_1"}
    data = form_data(
        admin_client,
        page,
        title="Send the signed contract",
        due_at_0="2040-01-31",
        due_at_1="09:00:00",
        status="done",
        kind="follow_up",
    )
    assert admin_client.post(page, data).status_code == 302
    world.task.refresh_from_db()
    assert world.task.title == "Send the signed contract"
    assert world.task.due_at is not None
    assert world.task.due_at.date() == date(2040, 1, 31)
    assert (world.task.status, world.task.kind) == ("open", "dispute_response")


@pytest.mark.django_db
def test_task_mark_done_action(admin_client: Any, world: World) -> None:
    changelist = admin_client.get(url(Task, "changelist")).content.decode()
    assert "Mark done" in changelist
    response = admin_client.post(
        url(Task, "changelist"), {"action": "mark_done", "_selected_action": [world.task.pk]}
    )
    assert response.status_code == 302
    world.task.refresh_from_db()
    assert world.task.status == "done"
    assert world.task.done_at is not None
    done_at = world.task.done_at

    admin_client.post(
        url(Task, "changelist"), {"action": "mark_done", "_selected_action": [world.task.pk]}
    )
    world.task.refresh_from_db()
    assert world.task.done_at == done_at  # already done: left as it was


def _access_rows(org, location, payer, subscription, now) -> None:
    """A door, a card, a visit pack and a decision, so each access changelist has a row."""
    tag = Credential.objects.create(
        organization=org, member=payer, kind="rfid", value="04A1B2C3", issued_at=now
    )
    door = AccessDevice.objects.create(
        organization=org,
        location=location,
        name="Front door",
        prefix="ad_admin01",
        key_hash="0" * 64,
        created_at=now,
    )
    VisitPack.objects.create(
        organization=org, member=payer, entries_total=10, valid_from=now, created_at=now
    )
    AccessDecision.objects.create(
        organization=org,
        location=location,
        device=door,
        at=now,
        kind="rfid",
        value="04A1B2C3",
        credential=tag,
        member=payer,
        subscription=subscription,
        allowed=True,
        reason_code="membership",
        reason="Welcome! Your membership is active.",
    )


def _classes_rows(
    org: Organization, location: Location, payer: Member, plan: Plan, now: Any
) -> None:
    """One row of each classes model (a class with a booking paid by a credit)."""
    from dues.classes.models import (
        Booking,
        ClassCreditAccount,
        ClassCreditEntry,
        ClassSession,
        ClassType,
        Instructor,
        LocationClassRules,
        Room,
        Schedule,
    )

    class_type = ClassType.objects.create(organization=org, name="Spinning", code="spinning")
    class_type.plans.add(plan)
    LocationClassRules.objects.create(organization=org, location=location, no_show_fee=10000)
    instructor = Instructor.objects.create(organization=org, name="Kim")
    room = Room.objects.create(organization=org, location=location, name="Studio", capacity=12)
    schedule = Schedule.objects.create(
        organization=org,
        class_type=class_type,
        room=room,
        instructor=instructor,
        rrule="FREQ=WEEKLY;BYDAY=MO",
        starts_on=now.date(),
        start_time="18:00",
    )
    session = ClassSession.objects.create(
        organization=org,
        schedule=schedule,
        occurrence=now + timedelta(days=1),
        class_type=class_type,
        location=location,
        room=room,
        instructor=instructor,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
        capacity=12,
        created_at=now,
    )
    booking = Booking.objects.create(
        organization=org,
        session=session,
        member=payer,
        status="booked",
        entitlement="credits",
        credits_used=1,
        booked_at=now,
        created_at=now,
    )
    account = ClassCreditAccount.objects.create(organization=org, member=payer, balance=4)
    ClassCreditEntry.objects.create(
        organization=org, account=account, amount=-1, kind="use", booking=booking, created_at=now
    )
