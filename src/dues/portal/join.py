"""Joining online: pick a location and plan, give your details, sign the contract, add a
card or bank debit, pay the first invoice.

Nothing is written until the visitor signs: the choices wait in their session. Signing
creates the member (a prospect) and the signature, and emails a PDF copy of the contract.
The membership, and with it the first invoice, is created only once a payment method is
saved, so an abandoned sign-up never leaves an invoice behind for dunning to chase.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from dues.billing.contracts import contract_attach, contract_sign
from dues.billing.models import ContractSignature, Invoice, InvoiceStatus
from dues.billing.preview import first_charge
from dues.billing.services import subscription_create, today_at
from dues.catalog.models import ContractVersion, Plan
from dues.catalog.selectors import contract_version_current
from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.models import Location, Organization, OutboxEvent
from dues.members.models import ConsentSource, Member
from dues.members.services import consent_set, member_create
from dues.notify.render import date_text, money_text
from dues.notify.send import messages_send
from dues.notify.services import message_create
from dues.payments.gateways.base import Gateway
from dues.portal.forms import CONSENT_WORDING_VERSION
from dues.portal.services import PayResult, invoice_pay_now


@dataclass(frozen=True)
class Details:
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date | None
    address: str
    language: str
    marketing_email: bool = False
    marketing_sms: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Contract:
    version: ContractVersion | None
    title: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


INTERVAL_TEXT = {
    "week": lambda: _("per week"),
    "month": lambda: _("per month"),
    "quarter": lambda: _("per quarter"),
    "year": lambda: _("per year"),
}


def contract_render(
    *,
    organization: Organization,
    plan: Plan,
    location: Location,
    details: Details,
    language: str,
    clock: Clock,
) -> Contract:
    """The contract as the visitor reads and signs it: the parties, the plan's terms
    (prices, first charge, minimum term, notice, freeze fee) and the gym's own wording."""
    version = (
        contract_version_current(plan.contract, language=language, now=clock.now())
        if plan.contract_id and plan.contract is not None
        else None
    )
    charge = first_charge(organization=organization, plan=plan, location=location, clock=clock)
    start = today_at(location, clock)
    with translation.override(language):
        title = version.title if version else _("Membership agreement")
        context = {
            "title": title,
            "seller": organization.legal_name or organization.name,
            "vat_number": organization.vat_number,
            "seller_address": " ".join(organization.address.split()),
            "details": details,
            "birth_date": date_text(details.date_of_birth, language)
            if details.date_of_birth
            else "",
            "address": " ".join(details.address.split()),
            "plan": plan.name,
            "location": location.name,
            "start": date_text(start, language),
            "price": money_text(plan.price, plan.currency, language),
            "per": INTERVAL_TEXT[plan.interval](),
            "joining_fee": money_text(plan.joining_fee, plan.currency, language)
            if plan.joining_fee
            else "",
            "first_total": money_text(charge.total, plan.currency, language),
            "first_date": date_text(charge.on, language),
            "trial_end": date_text(charge.trial_end, language) if charge.trial_end else "",
            "minimum_term_end": date_text(charge.minimum_term_end, language)
            if charge.minimum_term_end
            else "",
            "notice_days": plan.notice_days,
            "freeze_fee": money_text(plan.freeze_fee, plan.currency, language)
            if plan.freeze_fee
            else "",
            "body": version.body.strip() if version else "",
        }
        text = render_to_string("portal/join/contract.txt", context).strip() + "\n"
    return Contract(version=version, title=title, text=text)


def member_exists(organization: Organization, email: str) -> bool:
    """Someone who is (or was) a member signs in to add a membership rather than
    becoming a second member with the same address. Prospects (an unfinished sign-up)
    may start again."""
    return (
        Member.objects.filter(organization=organization, email__iexact=email.strip())
        .exclude(status="prospect")
        .exists()
    )


def join_sign(
    *,
    organization: Organization,
    plan: Plan,
    location: Location,
    details: Details,
    contract: Contract,
    typed_name: str,
    ip_address: str,
    user_agent: str,
    clock: Clock,
) -> ContractSignature:
    """Create the member and their signature, and email them a copy of the contract."""
    with transaction.atomic():
        member = member_create(
            organization=organization,
            first_name=details.first_name,
            last_name=details.last_name,
            email=details.email,
            phone=details.phone,
            date_of_birth=details.date_of_birth,
            address=details.address,
            language=details.language,
            home_location=location,
            clock=clock,
        )
        signature = contract_sign(
            member=member,
            plan=plan,
            location=location,
            version=contract.version,
            language=details.language,
            title=contract.title,
            text=contract.text,
            typed_name=typed_name,
            ip_address=ip_address,
            user_agent=user_agent,
            clock=clock,
        )
        consent_set(
            member=member,
            granted={"email": details.marketing_email, "sms": details.marketing_sms},
            source=ConsentSource.JOIN,
            wording_version=CONSENT_WORDING_VERSION,
            ip_address=ip_address,
            language=details.language,
            clock=clock,
        )
        # The email carries the PDF of this signature (notify.send reads it off the event).
        signed = OutboxEvent.objects.filter(
            topic="contract.signed", aggregate_type="member", aggregate_id=member.pk
        ).latest("id")
        message = message_create(
            member=member,
            location=location,
            channel=Channel.EMAIL,
            template="portal/contract",
            context={
                "first_name": member.first_name,
                "gym": organization.name,
                "title": contract.title,
                "signature_id": signature.pk,
                "portal_url": f"{settings.DUES_PUBLIC_URL}/me/",
            },
            language=details.language,
            created_at=clock.now(),
            event=signed,
        )
    # The copy is sent now, while the new member is at the screen (a failure leaves it
    # queued for the next tick).
    messages_send(clock=clock, ids=[message.pk])
    return signature


@dataclass(frozen=True)
class Joined:
    paid: bool
    processing: bool
    decline_code: str = ""


def join_complete(*, signature: ContractSignature, clock: Clock, gateway: Gateway) -> Joined:
    """Once a payment method is saved: start the membership signed for and charge the
    first invoice. Repeating it (a second card after a decline) only charges again."""
    member = signature.member
    if signature.subscription_id is None:
        with transaction.atomic():
            sub = subscription_create(
                member=member,
                plan=signature.plan,
                location=signature.location,
                start_date=today_at(signature.location, clock),
                clock=clock,
                sold_online=True,
            )
            contract_attach(signature=signature, subscription=sub)
    assert signature.subscription_id is not None
    invoice = (
        Invoice.objects.filter(
            lines__subscription_id=signature.subscription_id,
            status=InvoiceStatus.OPEN,
            amount_due__gt=0,
        )
        .order_by("id")
        .first()
    )
    if invoice is None:  # nothing due today (a trial), or already paid
        return Joined(paid=True, processing=False)
    result: PayResult = invoice_pay_now(invoice=invoice, clock=clock, gateway=gateway)
    # Neither paid nor declined: a bank debit, which takes days to clear.
    return Joined(
        paid=result.paid,
        processing=not result.paid and not result.decline_code,
        decline_code=result.decline_code,
    )
