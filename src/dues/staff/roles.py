"""Who on the staff may do what: the one permission table.

Every staff view names the ``Action`` it performs and ``staff.session.staff_view`` checks
it here (403 otherwise); templates ask ``may`` before showing a button. To change what a
role may do, change this table and nothing else.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    FRONT_DESK = "front_desk", _("Front desk")
    TRAINER = "trainer", _("Trainer")


class Action(models.TextChoices):
    MEMBER_SEARCH = "member_search", _("Search members")
    MEMBER_VIEW = "member_view", _("See a member's profile")
    MONEY_VIEW = "money_view", _("See invoices, payments and cards")
    PAYMENT_DESK = "payment_desk", _("Take a payment at the desk")
    REFUND = "refund", _("Refund a payment")
    CREDIT_NOTE = "credit_note", _("Issue a credit note")
    FREEZE = "freeze", _("Freeze a membership")
    CANCEL = "cancel", _("Cancel a membership")
    PLAN_CHANGE = "plan_change", _("Change a membership's plan")
    NOTE_ADD = "note_add", _("Add a note")
    DASHBOARD_VIEW = "dashboard_view", _("See the dashboard")
    CATALOG_EDIT = "catalog_edit", _("Edit plans and prices")
    DUNNING_EDIT = "dunning_edit", _("Edit the dunning policy")
    TEMPLATES_EDIT = "templates_edit", _("Edit message templates")
    STAFF_MANAGE = "staff_manage", _("Manage staff accounts and roles")
    CHECK_IN = "check_in", _("Check members in at the front desk")
    ACCESS_OVERRIDE = "access_override", _("Let a member in despite a refusal")
    CREDENTIALS_EDIT = "credentials_edit", _("Issue and revoke door credentials")
    ATTENDANCE_VIEW = "attendance_view", _("See attendance")
    CLASSES_VIEW = "classes_view", _("See the class schedule and rosters, check members in")
    CLASSES_EDIT = "classes_edit", _("Cancel or change a class")
    FEE_FORGIVE = "fee_forgive", _("Forgive a class fee")


_EVERYONE = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
_DESK = _MANAGERS | {Role.FRONT_DESK}

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.MEMBER_SEARCH: _EVERYONE,
    Action.MEMBER_VIEW: _EVERYONE,
    Action.MONEY_VIEW: _DESK,
    Action.PAYMENT_DESK: _DESK,
    Action.REFUND: _MANAGERS,
    Action.CREDIT_NOTE: _MANAGERS,
    Action.FREEZE: _DESK,
    Action.CANCEL: _MANAGERS,
    Action.PLAN_CHANGE: _MANAGERS,
    Action.NOTE_ADD: _EVERYONE,
    Action.DASHBOARD_VIEW: _MANAGERS,
    Action.CATALOG_EDIT: _MANAGERS,
    Action.DUNNING_EDIT: _MANAGERS,
    Action.TEMPLATES_EDIT: _MANAGERS,
    Action.STAFF_MANAGE: frozenset({Role.OWNER}),
    Action.CHECK_IN: _DESK,
    Action.ACCESS_OVERRIDE: _DESK,
    Action.CREDENTIALS_EDIT: _DESK,
    Action.ATTENDANCE_VIEW: _MANAGERS,
    Action.CLASSES_VIEW: _EVERYONE,
    Action.CLASSES_EDIT: _DESK,
    Action.FEE_FORGIVE: _MANAGERS,
}

# Roles that must sign in with a second factor (a confirmed TOTP device); the others may.
TWO_FACTOR_REQUIRED = _MANAGERS


def may(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action``; an unknown role or action may nothing."""
    try:
        return Role(role) in PERMISSIONS[Action(action)]
    except (ValueError, KeyError):
        return False


def actions_for(role: str) -> frozenset[str]:
    """Every action ``role`` may do (for templates: ``{% if "refund" in can %}``)."""
    return frozenset(str(action) for action in Action if may(role, action))
