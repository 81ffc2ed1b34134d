"""What a signed-in member may see. Every read here starts from the member: their own
memberships and those they pay for, the invoices addressed to them, their payments and
messages. An id from the address bar is only ever looked up inside these sets, so
changing it shows another member's data to nobody."""

from __future__ import annotations

from django.db.models import QuerySet

from dues.billing.models import Invoice, InvoiceStatus, Subscription
from dues.core.channels import Channel
from dues.members.models import Member
from dues.notify.models import Message
from dues.payments.models import Payment


def member_memberships(member: Member) -> QuerySet[Subscription]:
    """The member's own memberships and those of the household they pay for."""
    # Two index look-ups rather than one OR: SQLite would answer the OR by walking every
    # subscription of the organization.
    scoped = Subscription.objects.filter(organization_id=member.organization_id)
    ids = {
        *scoped.filter(member=member).values_list("pk", flat=True),
        *scoped.filter(payer=member).values_list("pk", flat=True),
    }
    return (
        scoped.filter(pk__in=ids)
        .select_related("plan", "member", "location", "organization")
        .order_by("-created_at", "-id")
    )


def member_membership(member: Member, subscription_id: int) -> Subscription | None:
    return member_memberships(member).filter(pk=subscription_id).first()


def member_invoices(member: Member) -> QuerySet[Invoice]:
    """Invoices addressed to the member (drafts are not invoices yet)."""
    return (
        Invoice.objects.filter(organization_id=member.organization_id, payer=member)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("location", "organization")
        .order_by("-issue_date", "-id")
    )


def member_invoice(member: Member, invoice_id: int) -> Invoice | None:
    return member_invoices(member).filter(pk=invoice_id).first()


def member_open_invoices(member: Member) -> QuerySet[Invoice]:
    return member_invoices(member).filter(status=InvoiceStatus.OPEN, amount_due__gt=0)


def member_payments(member: Member) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(organization_id=member.organization_id, payer=member)
        .select_related("invoice")
        .order_by("-received_at", "-id")
    )


def member_household(member: Member) -> QuerySet[Member]:
    """The members this member pays for."""
    return Member.objects.filter(organization_id=member.organization_id, payer=member).order_by(
        "first_name"
    )


def member_inbox(member: Member) -> QuerySet[Message]:
    return Message.objects.filter(
        organization_id=member.organization_id, member=member, channel=Channel.IN_APP
    ).order_by("-created_at", "-id")
