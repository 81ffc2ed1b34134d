"""Why a door opened or stayed shut: one code per reason, each with the sentence the member
reads at the door (translated; ``access/locale``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    MEMBERSHIP = "membership", _("Welcome! Your membership is active.")
    VISIT_PACK = "visit_pack", _("Welcome! One visit was used from your pack.")
    OVERRIDE = "override", _("Let in by staff.")
    UNKNOWN_CREDENTIAL = "unknown_credential", _("This card or code is not known here.")
    REVOKED = "revoked", _("This card has been deactivated. Please see the front desk.")
    QR_INVALID = "qr_invalid", _("This QR code is not valid.")
    QR_EXPIRED = "qr_expired", _("This QR code has expired. Show the code in the app again.")
    QR_REUSED = "qr_reused", _("This QR code was already used. Wait for the next code.")
    NO_MEMBERSHIP = "no_membership", _("You have no membership that opens this door.")
    NOT_STARTED = "not_started", _("Your membership has not started yet.")
    CANCELLED = "cancelled", _("Your membership has ended.")
    FROZEN = "frozen", _("Your membership is frozen.")
    RESTRICTED = (
        "restricted",
        _("Entry is paused because of an unpaid balance. Please see the front desk."),
    )
    WRONG_LOCATION = "wrong_location", _("Your membership does not include this location.")
    OUTSIDE_HOURS = "outside_hours", _("Your membership does not give entry at this time.")
    PACK_EXHAUSTED = "pack_exhausted", _("Your visit pack has no visits left.")
    ANTI_PASSBACK = (
        "anti_passback",
        _("This card was just used to enter here. Please wait a few minutes."),
    )


ALLOWING = frozenset({Reason.MEMBERSHIP, Reason.VISIT_PACK, Reason.OVERRIDE})

# When no membership lets the member in, the refusal shown is that of the membership that
# got furthest through the checks (in this order), so the reason is the most useful one.
MEMBERSHIP_CHECKS = (
    Reason.CANCELLED,
    Reason.NOT_STARTED,
    Reason.FROZEN,
    Reason.RESTRICTED,
    Reason.WRONG_LOCATION,
    Reason.OUTSIDE_HOURS,
)
