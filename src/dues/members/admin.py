"""Members: the front desk's most used admin page, kept fast at 100k members.

Status is read-only here: it moves only through ``members.services.member_set_status``,
which records the history row and the outbox event. Marketing consent is an append-only
history: staff record a member's answer as a new row (``services.consent_set``), never
by editing one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    ADMIN_CLOCK,
    DuesModelAdmin,
    InheritOrganizationInlinesMixin,
    LocationListFilter,
    OrgOwnedAdmin,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    stamp_new_row,
)
from dues.members.models import (
    ConsentChange,
    ConsentSource,
    EmergencyContact,
    Member,
    MemberNote,
    MemberStatusChange,
)
from dues.members.selectors import consent_current
from dues.members.services import consent_set

# Autocomplete (not a <select>) for every foreign key to Member: 100k options would not render.
MEMBER_SEARCH_FIELDS = ("first_name", "last_name", "email", "phone", "member_number")


def member_search_fields(prefix: str) -> tuple[str, ...]:
    """Search a row by its member, e.g. ``member_search_fields("payer")``."""
    return tuple(f"{prefix}__{name}" for name in MEMBER_SEARCH_FIELDS)


class MemberForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Member
        fields = (
            "first_name",
            "last_name",
            "date_of_birth",
            "language",
            "email",
            "phone",
            "address",
            "organization",
            "home_location",
            "payer",
            "service_email",
            "service_sms",
            "service_in_app",
            "payment_sms",
        )
        labels = {
            "home_location": _("Home location"),
            "language": _("Language"),
            "service_email": _("Service messages by email"),
            "service_sms": _("Service messages by SMS"),
            "service_in_app": _("Service messages in the app"),
            "payment_sms": _("Payment messages also by SMS"),
        }

    def clean_email(self) -> str:
        return str(self.cleaned_data.get("email") or "").strip().lower()

    def clean_date_of_birth(self) -> Any:
        born = self.cleaned_data.get("date_of_birth")
        if born is not None and born > ADMIN_CLOCK.now().date():
            raise forms.ValidationError(_("Date of birth is in the future."))
        return born

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None:
            return cleaned
        location = cleaned.get("home_location")
        if location is not None and location.organization_id != organization.pk:
            self.add_error("home_location", _("This location belongs to another organization."))
        payer = cleaned.get("payer")
        if payer is not None:
            if payer.organization_id != organization.pk:
                self.add_error("payer", _("This payer belongs to another organization."))
            elif self.instance.pk is not None and payer.pk == self.instance.pk:
                self.add_error("payer", _("Leave empty when the member pays for themselves."))
            elif payer.payer_id is not None:
                self.add_error("payer", _("A payer must pay for themselves."))
            elif self.instance.pk is not None and self.instance.dependants.exists():
                self.add_error("payer", _("This member pays for others, so pays for themselves."))
        return cleaned


class EmergencyContactInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EmergencyContact
    fields = ("name", "relationship", "phone")
    extra = 0


class MemberNoteInline(admin.TabularInline):  # type: ignore[type-arg]
    model = MemberNote
    fields = ("text", "author", "created_at")
    readonly_fields = ("author", "created_at")
    extra = 0
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}


class ConsentChangeInline(ReadOnlyTabularInline):
    model = ConsentChange
    fields = ("changed_at", "channel", "granted", "source", "changed_by", "wording_version")
    show_change_link = False
    verbose_name = _("marketing consent change")
    verbose_name_plural = _("marketing consent history")


class MemberStatusChangeInline(ReadOnlyTabularInline):
    model = MemberStatusChange
    fields = ("changed_at", "from_status", "to_status", "reason")
    show_change_link = False
    verbose_name = _("status change")
    verbose_name_plural = _("status history")


@admin.register(Member)
class MemberAdmin(InheritOrganizationInlinesMixin, OrgOwnedAdmin):
    form = MemberForm
    list_display = (
        "member_number",
        "name",
        "email",
        "phone",
        "status",
        "home_location",
        "organization",
        "created_at",
    )
    list_display_links = ("member_number", "name")
    search_fields = MEMBER_SEARCH_FIELDS
    search_help_text = _("Name, email, phone or member number.")
    list_filter = (
        "status",
        "organization",
        ("home_location", LocationListFilter),
        ("payer", admin.EmptyFieldListFilter),
    )
    list_select_related = ("organization", "home_location__organization")
    autocomplete_fields = ("payer",)
    readonly_fields = ("status", "member_number", "created_at")
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "date_of_birth", "language")}),
        (_("Contact"), {"fields": ("email", "phone", "address")}),
        (
            _("Membership"),
            {
                "fields": (
                    "organization",
                    "home_location",
                    "payer",
                    "status",
                    "member_number",
                    "created_at",
                )
            },
        ),
        (
            _("Messages"),
            {
                "fields": ("service_email", "service_sms", "service_in_app", "payment_sms"),
                "description": _(
                    "Payment messages always go by email and in the app; only their SMS "
                    "can be turned off."
                ),
            },
        ),
    )
    inlines = (
        EmergencyContactInline,
        MemberNoteInline,
        MemberStatusChangeInline,
        ConsentChangeInline,
    )

    @admin.display(description=_("Name"), ordering="last_name")
    def name(self, obj: Member) -> str:
        return obj.full_name

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stamp_new_row(obj)
        super().save_model(request, obj, form, change)
        if not obj.member_number:
            # Same numbering as members.services.member_create.
            obj.member_number = f"M{obj.pk:06d}"
            obj.save(update_fields=["member_number"])

    def before_inline_save(self, request: HttpRequest, instance: models.Model) -> None:
        if isinstance(instance, MemberNote) and not instance.author:
            instance.author = request.user.get_username()


class MemberRowAdmin(DuesModelAdmin):
    """A row that hangs off one member: its organization is the member's."""

    autocomplete_fields = ("member",)
    list_select_related = ("member",)
    exclude = ("organization",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.member.organization_id
        stamp_new_row(obj)
        super().save_model(request, obj, form, change)


@admin.register(EmergencyContact)
class EmergencyContactAdmin(MemberRowAdmin):
    list_display = ("name", "relationship", "phone", "member")
    search_fields = ("name", "phone", *member_search_fields("member"))
    list_filter = ("organization",)


@admin.register(MemberNote)
class MemberNoteAdmin(MemberRowAdmin):
    list_display = ("summary", "member", "author", "created_at")
    search_fields = ("text", "author", *member_search_fields("member"))
    list_filter = ("organization",)
    readonly_fields = ("author", "created_at")
    date_hierarchy = "created_at"

    @admin.display(description=_("Note"))
    def summary(self, obj: MemberNote) -> str:
        return obj.text[:80]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not obj.author:
            obj.author = request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(MemberStatusChange)
class MemberStatusChangeAdmin(ReadOnlyModelAdmin):
    list_display = ("member", "from_status", "to_status", "reason", "changed_at")
    search_fields = ("reason", *member_search_fields("member"))
    list_filter = ("to_status", "from_status", "organization")
    list_select_related = ("member",)
    date_hierarchy = "changed_at"


class ConsentChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ConsentChange
        fields = ("member", "channel", "granted", "wording_version")
        labels = {"granted": _("Consents to marketing on this channel")}
        help_texts = {
            "wording_version": _("The form or wording the member answered, e.g. paper-2026.")
        }

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        member, channel = cleaned.get("member"), cleaned.get("channel")
        granted = cleaned.get("granted", False)
        if member is not None and channel and consent_current(member)[channel] == granted:
            self.add_error(None, _("This is already the member's answer on this channel."))
        return cleaned


@admin.register(ConsentChange)
class ConsentChangeAdmin(DuesModelAdmin):
    """Add-only: a member's answer given at the desk or on paper is a new row in the
    history; rows are never changed or deleted."""

    form = ConsentChangeForm
    list_display = ("member", "channel", "granted", "source", "changed_by", "changed_at")
    search_fields = ("wording_version", "changed_by", *member_search_fields("member"))
    list_filter = ("channel", "granted", "source", "organization")
    list_select_related = ("member",)
    autocomplete_fields = ("member",)
    date_hierarchy = "changed_at"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        [row] = consent_set(
            member=obj.member,
            granted={obj.channel: obj.granted},
            source=ConsentSource.STAFF,
            wording_version=obj.wording_version,
            changed_by=request.user.get_username(),
            clock=ADMIN_CLOCK,
        )
        # The admin goes on with the row the service wrote (for its message and log).
        obj.pk, obj.organization_id, obj._state.adding = row.pk, row.organization_id, False
