"""The event types a gym's other tools can subscribe to: every outbox topic that is a
fact about the business. The payload of each is the outbox event's payload (ids, amounts
in minor units with their currency, dates in ISO 8601); README "Outgoing webhooks"."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "member.created": "A member was added.",
    "member.updated": "A member's details changed.",
    "member.status_changed": "A member became active, frozen, cancelled, ...",
    "subscription.created": "A membership started (or will start).",
    "subscription.trial_started": "A membership's trial began.",
    "subscription.freeze_scheduled": "A freeze was booked.",
    "subscription.freeze_cancelled": "A booked freeze was called off.",
    "subscription.frozen": "A freeze began.",
    "subscription.unfrozen": "A freeze ended.",
    "subscription.plan_change_scheduled": "A plan change was booked for the next period.",
    "subscription.plan_changed": "The plan changed.",
    "subscription.cancel_scheduled": "A cancellation was booked (notice, minimum term).",
    "subscription.cancelled": "A membership ended.",
    "invoice.finalized": "An invoice was issued with its number.",
    "invoice.paid": "An invoice was paid in full.",
    "invoice.voided": "An invoice was voided.",
    "invoice.uncollectible": "An invoice was written off to bad debt.",
    "credit_note.created": "A credit note was issued.",
    "payment.succeeded": "Money was received (card, bank debit, desk).",
    "payment.failed": "A charge was declined or failed.",
    "refund.succeeded": "A refund was paid out.",
    "payment_method.added": "A card or bank debit mandate was saved.",
    "payment_method.updated": "A saved card changed (e.g. a new expiry from the updater).",
    "restriction.placed": "Bookings or door access were blocked for a membership.",
    "restriction.lifted": "A block was lifted.",
    "dunning.case_opened": "A failed invoice entered dunning.",
    "dunning.reminder": "A reminder step was reached (the messages follow).",
    "dunning.pre_notice": "A notice before a card expires, a renewal or a risky charge.",
    "dunning.final_action": "Dunning's last step was taken (cancel, write off, collections).",
    "dunning.recovered": "A failed invoice was paid.",
    "dunning.closed": "A case closed because its invoice was voided or credited.",
    "dunning.uncollectible": "A case closed because its invoice was written off by staff.",
    "dunning.plan_agreed": "Staff agreed a payment plan.",
    "dunning.plan_completed": "A payment plan was paid off.",
    "dunning.plan_broken": "A payment plan broke (an instalment failed twice).",
    "dunning.plan_cancelled": "Staff cancelled a payment plan.",
}
