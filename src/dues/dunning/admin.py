"""Dunning: policies (editable) and cases (written by the dunning run, read here)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    ADMIN_CLOCK,
    EMPTY,
    DuesModelAdmin,
    InheritOrganizationInlinesMixin,
    MoneyAdminForm,
    OrgOwnedAdmin,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    money,
    stamp_new_row,
)
from dues.core.clock import SystemClock
from dues.dunning.checks import channels_problem, policy_problems
from dues.dunning.experiments import experiment_report, experiment_stop
from dues.dunning.models import (
    CaseStatus,
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
from dues.dunning.plans import instalments_split, payment_plan_create
from dues.members.admin import member_search_fields


class DunningPolicyForm(MoneyAdminForm):
    money_fields = ("late_fee_amount",)
    percent_fields = ("late_fee_bp",)
    currency_field = "late_fee_currency"

    class Meta:
        model = DunningPolicy
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, problem in policy_problems(cleaned).items():
            if name in self.fields:
                self.add_error(name, problem)
        return cleaned


class ReminderStepForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ReminderStep
        fields = ("day_offset", "tone", "channels")

    def clean_channels(self) -> Any:
        channels = self.cleaned_data["channels"]
        problem = channels_problem(channels)
        if problem:
            raise forms.ValidationError(problem)
        return channels


class ReminderStepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ReminderStep
    form = ReminderStepForm
    extra = 0


@admin.register(DunningPolicy)
class DunningPolicyAdmin(InheritOrganizationInlinesMixin, OrgOwnedAdmin):
    form = DunningPolicyForm
    inlines = (ReminderStepInline,)
    list_display = ("name", "plan", "retry_mode", "max_attempts", "max_days", "final_action")
    list_filter = ("retry_mode", "final_action", "organization")
    search_fields = ("name", "plan__name")
    list_select_related = ("plan",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("organization", "name", "plan")}),
        (
            _("Retries"),
            {"fields": ("retry_mode", "retry_days", "max_attempts", "max_days", "final_action")},
        ),
        (
            _("Restrictions (days after the first failure)"),
            {
                "fields": (
                    "grace_days",
                    "block_bookings_after_days",
                    "block_access_after_days",
                    "cancel_after_days",
                )
            },
        ),
        (
            _("Late fee"),
            {
                "fields": (
                    "late_fee_kind",
                    "late_fee_currency",
                    "late_fee_amount",
                    "late_fee_bp",
                    "late_fee_after_days",
                )
            },
        ),
        (
            _("Before anything fails"),
            {
                "fields": (
                    "card_expiry_notice_days",
                    "renewal_notice_days",
                    "risk_notice_bp",
                    "risk_notice_days",
                )
            },
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stamp_new_row(obj)
        obj.updated_at = SystemClock().now()
        super().save_model(request, obj, form, change)


@admin.register(Payday)
class PaydayAdmin(OrgOwnedAdmin):
    list_display = ("location", "days")
    list_select_related = ("location__organization",)
    search_fields = ("location__name",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.location.organization_id
        super().save_model(request, obj, form, change)


@admin.register(DunningCase)
class DunningCaseAdmin(ReadOnlyModelAdmin):
    list_display = (
        "invoice",
        "payer_name",
        "status",
        "amount_due",
        "attempts",
        "last_decline_code",
        "next_retry_at",
        "restriction_level",
        "opened_at",
    )
    list_filter = ("status", "is_fee", "restriction_level", "organization")
    list_select_related = ("invoice", "payer")
    search_fields = ("invoice__number", "last_decline_code", *member_search_fields("payer"))
    date_hierarchy = "opened_at"

    @admin.display(description=_("Payer"), ordering="payer__last_name")
    def payer_name(self, obj: DunningCase) -> str:
        return obj.payer.full_name

    @admin.display(description=_("Amount due"))
    def amount_due(self, obj: DunningCase) -> str:
        if not obj.invoice.amount_due:
            return EMPTY
        return money(obj.invoice.amount_due, obj.invoice.currency)


@admin.register(ReminderStep)
class ReminderStepAdmin(OrgOwnedAdmin):
    form = ReminderStepForm
    list_display = ("policy", "day_offset", "tone", "channels")
    list_filter = ("tone", "organization")
    list_select_related = ("policy",)
    search_fields = ("policy__name",)
    fields = ("policy", "day_offset", "tone", "channels")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.policy.organization_id
        super().save_model(request, obj, form, change)


class PaymentPlanAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """Staff agree a plan: the payer's whole overdue balance, split evenly."""

    count = forms.IntegerField(label=_("Instalments"), min_value=1, max_value=24, initial=3)
    first_on = forms.DateField(label=_("First instalment on"), help_text=_("YYYY-MM-DD"))
    every_months = forms.IntegerField(
        label=_("Months between instalments"), min_value=1, max_value=12, initial=1
    )

    class Meta:
        model = PaymentPlan
        fields = ("payer", "note")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        payer = cleaned.get("payer")
        if payer is None or self.errors:
            return cleaned
        owed = sum(
            DunningCase.objects.filter(payer=payer, status=CaseStatus.OPEN).values_list(
                "invoice__amount_due", flat=True
            )
        )
        try:
            self.plan = payment_plan_create(
                payer=payer,
                instalments=instalments_split(
                    total=owed,
                    count=cleaned["count"],
                    first_on=cleaned["first_on"],
                    every_months=cleaned["every_months"],
                ),
                clock=ADMIN_CLOCK,
                note=cleaned.get("note", ""),
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return cleaned


class InstalmentInline(ReadOnlyTabularInline):
    model = Instalment
    fields = ("number", "due_on", "amount", "amount_paid", "status", "tries", "paid_at")
    show_change_link = False


@admin.register(PaymentPlan)
class PaymentPlanAdmin(DuesModelAdmin):
    list_display = ("__str__", "payer", "status", "total_display", "created_at")
    list_filter = ("status", "organization")
    list_select_related = ("payer",)
    search_fields = member_search_fields("payer")
    autocomplete_fields = ("payer",)
    inlines = (InstalmentInline,)
    readonly_fields = ("organization", "payer", "currency", "total", "status", "note", "closed_at")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kw["form"] = PaymentPlanAddForm
        return super().get_form(request, obj, change, **kw)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("payer", "count", "first_on", "every_months", "note")
        return self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.pk = form.plan.pk  # created by the form's service call, in its transaction

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    @admin.display(description=_("Total"))
    def total_display(self, obj: PaymentPlan) -> str:
        return money(obj.total, obj.currency)


@admin.register(Instalment)
class InstalmentAdmin(ReadOnlyModelAdmin):
    list_display = ("plan", "number", "due_on", "amount", "amount_paid", "status", "tries")
    list_filter = ("status", "organization")
    list_select_related = ("plan",)
    search_fields = member_search_fields("plan__payer")


@admin.register(RiskScore)
class RiskScoreAdmin(ReadOnlyModelAdmin):
    """Payers with a charge coming, riskiest first: who to call before it fails."""

    list_display = ("payer", "score", "charge_on", "reasons_text", "computed_at")
    list_filter = ("organization",)
    list_select_related = ("payer",)
    search_fields = member_search_fields("payer")

    @admin.display(description=_("Chance the charge fails"), ordering="score_bp")
    def score(self, obj: RiskScore) -> str:
        return f"{obj.score_bp / 100:.0f}%"

    @admin.display(description=_("Why"))
    def reasons_text(self, obj: RiskScore) -> str:
        return "; ".join(obj.reasons) or EMPTY


@admin.register(PreNotice)
class PreNoticeAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "payer", "kind", "key")
    list_filter = ("kind", "organization")
    list_select_related = ("payer",)
    search_fields = ("key", *member_search_fields("payer"))


@admin.register(PreDunningDay)
class PreDunningDayAdmin(ReadOnlyModelAdmin):
    list_display = ("organization", "ran_on")


class ExperimentForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Experiment
        fields = ("policy", "name", "hypothesis")

    def clean_policy(self) -> DunningPolicy:
        policy: DunningPolicy = self.cleaned_data["policy"]
        running = Experiment.objects.filter(policy=policy, stopped_at__isnull=True)
        if self.instance.pk:
            running = running.exclude(pk=self.instance.pk)
        if running.exists():
            raise forms.ValidationError(_("This policy already has a running experiment."))
        return policy


class ExperimentVariantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ExperimentVariant
    fields = ("key", "weight", "retry_mode", "retry_days", "max_attempts", "reminder_style")
    extra = 2
    min_num = 2


@admin.register(Experiment)
class ExperimentAdmin(InheritOrganizationInlinesMixin, DuesModelAdmin):
    form = ExperimentForm
    inlines = (ExperimentVariantInline,)
    list_display = ("name", "policy", "started_at", "stopped_at")
    list_filter = ("organization",)
    search_fields = ("name", "policy__name")
    list_select_related = ("policy",)
    readonly_fields = ("started_at", "stopped_at", "results")
    actions = ("stop",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.organization_id = obj.policy.organization_id
            obj.started_at = ADMIN_CLOCK.now()
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cases record the experiment they were part of

    @admin.action(description=_("Stop the selected experiments"))
    def stop(self, request: HttpRequest, queryset: Any) -> None:
        for experiment in queryset.filter(stopped_at__isnull=True):
            experiment_stop(experiment=experiment, clock=ADMIN_CLOCK)

    @admin.display(description=_("Results (95% intervals)"))
    def results(self, obj: Experiment) -> str:
        if obj.pk is None:
            return EMPTY
        rows = experiment_report(obj)
        cells = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.key,
                    r.decided,
                    r.recovered,
                    f"{r.rate:.1%} ({r.low:.1%}–{r.high:.1%})" if r.rate is not None else EMPTY,
                    r.pending,
                )
                for r in rows
            ),
        )
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("Variant"),
            _("Decided"),
            _("Recovered"),
            _("Recovery rate"),
            _("Still in dunning"),
        )
        return format_html("<table>{}{}</table>", head, cells)


@admin.register(ExperimentVariant)
class ExperimentVariantAdmin(ReadOnlyModelAdmin):
    list_display = ("experiment", "key", "weight", "retry_mode", "retry_days", "reminder_style")
    list_filter = ("reminder_style", "organization")
    list_select_related = ("experiment",)
    search_fields = ("key", "experiment__name")
