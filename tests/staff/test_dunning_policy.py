"""The dunning policy pages: owners and managers change a policy and its reminder steps
(exact values stored, an audit row with before and after), a preview shows the timeline of
unsaved values and writes nothing, bad input is refused on its field with nothing written,
and nobody else may look (nor at another gym's policy)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dues.billing.services import subscription_create
from dues.dunning.experiments import experiment_start
from dues.dunning.models import DunningPolicy, ReminderStep
from dues.dunning.services import policy_default, policy_values
from dues.staff.models import StaffChange
from dues.staff.roles import Role
from tests.factories import d, make_member, make_org, make_plan
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org, staff_clock):
    return make_staff(org, Role.MANAGER, staff_clock, username="maria", device=True)


@pytest.fixture
def client(org, manager):
    return client_for(manager, org)


@pytest.fixture
def policy(org, staff_clock):
    """The gym's default policy: smart retries, default reminder steps (0, 3, 7, 14, 21)."""
    return policy_default(organization_id=org.pk, clock=staff_clock)


def text(response) -> str:
    return response.content.decode().replace("\xa0", " ")


STEPS = [
    {"day_offset": "0", "channels": ["email", "in_app"], "tone": "friendly"},
    {"day_offset": "3", "channels": ["email", "sms"], "tone": "friendly"},
    {"day_offset": "8", "channels": ["email", "call"], "tone": "firm"},
    {"day_offset": "12", "channels": ["email", "sms"], "tone": "final"},
]


def form_data(steps=STEPS, **overrides):
    """What the page posts: every field as typed, the steps as the formset's rows."""
    data = {
        "name": "Firm but fair",
        "retry_mode": "fixed",
        "retry_days": "3, 7",
        "max_attempts": "3",
        "grace_days": "2",
        "block_bookings_after_days": "4",
        "block_access_after_days": "9",
        "cancel_after_days": "",
        "late_fee_kind": "percent",
        "late_fee_amount": "",
        "late_fee_currency": "",
        "late_fee_bp": "12.5",
        "late_fee_after_days": "6",
        "max_days": "12",
        "final_action": "collections",
        "card_expiry_notice_days": "30, 7",
        "renewal_notice_days": "",
        "risk_notice_bp": "25",
        "risk_notice_days": "2",
        "steps-TOTAL_FORMS": str(len(steps) + 1),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "30",
    }
    for i, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{i}-{key}"] = value
    # One blank row for a new reminder, left empty: it adds nothing.
    data[f"steps-{len(steps)}-day_offset"] = ""
    data[f"steps-{len(steps)}-tone"] = ""
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def steps_of(policy):
    return list(
        ReminderStep.objects.filter(policy=policy)
        .order_by("day_offset")
        .values_list("day_offset", "channels", "tone")
    )


def test_the_list_shows_each_policy_and_its_key_numbers(org, client, policy, staff_clock):
    plan = make_plan(org, name="Students")
    DunningPolicy.objects.create(
        organization=org,
        plan=plan,
        name="Student policy",
        retry_mode="fixed",
        retry_days=[2, 5],
        max_attempts=3,
        max_days=10,
        final_action="uncollectible",
        late_fee_kind="fixed",
        late_fee_amount=5000,
        late_fee_currency="SEK",
        created_at=staff_clock.now(),
        updated_at=staff_clock.now(),
    )
    page = text(client.get(reverse("staff-policies")))
    assert "Default dunning policy" in page
    assert "All plans" in page
    assert "Student policy" in page
    assert "Students" in page
    assert "Smart; 8 charges at most" in page
    assert "On days 2, 5; 3 charges at most" in page
    assert "Bookings from day 7, access from day 14" in page
    assert "SEK50.00 on day 10" in page
    assert "Day 28: cancel the membership; the amount stays owed" in page
    assert f'href="{reverse("staff-policy-edit", args=[policy.pk])}"' in page
    assert 'href="/staff/dunning/"' in text(client.get(reverse("staff-members")))  # nav link


def test_saving_stores_exact_values_and_steps_and_records_the_change(
    org, client, manager, policy, staff_clock
):
    before = policy_values(policy)
    url = reverse("staff-policy-edit", args=[policy.pk])
    assert url == f"/staff/dunning/{policy.pk}/"
    response = client.post(url, form_data(save="1"))
    assert response.status_code == 302, text(response)[:3000]
    assert response["Location"] == reverse("staff-policies")
    policy.refresh_from_db()
    assert (
        policy.name,
        policy.retry_mode,
        policy.retry_days,
        policy.max_attempts,
        policy.grace_days,
        policy.block_bookings_after_days,
        policy.block_access_after_days,
        policy.cancel_after_days,
        policy.late_fee_kind,
        policy.late_fee_bp,
        policy.late_fee_amount,
        policy.late_fee_after_days,
        policy.max_days,
        policy.final_action,
        policy.card_expiry_notice_days,
        policy.renewal_notice_days,
        policy.risk_notice_bp,
        policy.risk_notice_days,
    ) == (
        "Firm but fair",
        "fixed",
        [3, 7],
        3,
        2,
        4,
        9,
        None,
        "percent",
        1250,
        0,
        6,
        12,
        "collections",
        [30, 7],
        None,
        2500,
        2,
    )
    assert policy.updated_at == staff_clock.now()
    assert steps_of(policy) == [
        (0, ["email", "in_app"], "friendly"),
        (3, ["email", "sms"], "friendly"),
        (8, ["email", "call"], "firm"),
        (12, ["email", "sms"], "final"),
    ]
    [change] = StaffChange.objects.all()
    assert (change.user, change.organization, change.action, change.at) == (
        manager,
        org,
        "dunning_edit",
        staff_clock.now(),
    )
    assert change.target == f"dunning.policy:{policy.pk}"
    assert change.summary == "Dunning policy Firm but fair changed"
    assert change.before == before
    assert change.before["steps"][0] == {
        "day_offset": 0,
        "channels": ["email", "in_app"],
        "tone": "friendly",
    }
    assert change.after == policy_values(policy)
    assert change.after["late_fee_bp"] == 1250
    assert len(change.after["steps"]) == 4
    listed = text(client.get(reverse("staff-policies")))
    assert "Dunning policy “Firm but fair” saved." in listed


def test_a_fixed_fee_is_typed_in_the_main_unit_and_a_step_can_be_removed(
    location, client, policy, staff_clock
):
    steps = [dict(s) for s in STEPS]
    steps[1]["DELETE"] = "on"
    data = form_data(
        steps,
        save="1",
        late_fee_kind="fixed",
        late_fee_amount="50.00",
        late_fee_currency="SEK",
        late_fee_bp="",
    )
    assert client.post(reverse("staff-policy-edit", args=[policy.pk]), data).status_code == 302
    policy.refresh_from_db()
    assert (policy.late_fee_kind, policy.late_fee_amount, policy.late_fee_currency) == (
        "fixed",
        5000,
        "SEK",
    )
    assert policy.late_fee_bp == 0
    assert [day for day, _, _ in steps_of(policy)] == [0, 8, 12]


def test_preview_shows_the_unsaved_timeline_and_saves_nothing(
    org, location, client, policy, staff_clock
):
    # Most members pay 399.00: the example charge is that.
    for _ in range(2):
        subscription_create(
            member=make_member(org, staff_clock),
            plan=make_plan(org, price=39900),
            location=location,
            start_date=d("2026-01-15"),
            clock=staff_clock,
        )
    make_plan(org, price=99900)
    before = policy_values(policy)
    url = reverse("staff-policy-edit", args=[policy.pk])
    page = text(client.post(url, form_data(preview="1")))
    assert "Preview of your changes (not saved)" in page
    assert "A charge of SEK399.00 that fails today, January 15, 2026, and is never paid." in page
    # The timeline, in order, with dates: 12.5% of 399.00 = 49.875 → 49.88.
    order = [
        "January 15, 2026",
        "Friendly reminder by Email, Message in the member app.",
        "January 17, 2026",
        "The grace period ends",
        "January 18, 2026",
        "Friendly reminder by Email, Text message (SMS).",
        "Retry 1 of 2",
        "January 19, 2026",
        "Class bookings are blocked.",
        "January 21, 2026",
        "A late fee of SEK49.88 (12.5% of SEK399.00) is invoiced and charged to the card.",
        "Owed: <strong>SEK448.88</strong> (SEK49.88 late fee added)",
        "January 22, 2026",
        "Retry 2 of 2",
        "January 23, 2026",
        "Firm reminder by Email, Phone call (a task for your staff).",
        "January 24, 2026",
        "Door access is blocked.",
        "January 27, 2026",
        "Final notice by Email, Text message (SMS).",
        "Final action: hand the debt to a collection agency.",
    ]
    positions = [page.find(s) for s in order]
    assert -1 not in positions, [s for s, p in zip(order, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    # The form keeps what was typed; nothing was written.
    assert 'value="Firm but fair"' in page
    policy.refresh_from_db()
    assert policy_values(policy) == before
    assert not StaffChange.objects.exists()


def test_the_saved_policy_shows_its_timeline_on_the_page(org, client, policy, staff_clock):
    make_plan(org, price=49900)
    experiment_start(
        policy=policy,
        name="Direct text",
        variants=[{"key": "control"}, {"key": "direct", "reminder_style": "direct"}],
        clock=staff_clock,
    )
    page = text(client.get(reverse("staff-policy-edit", args=[policy.pk])))
    assert "The experiment “Direct text” is running on this policy" in page
    assert "What happens to a failed payment" in page
    assert "A charge of SEK499.00 that fails today, January 15, 2026" in page
    assert "Smart retries: Dues picks the hour of each retry" in page
    assert "At most 8 charges in all" in page
    assert "February 12, 2026" in page  # day 28: the final action
    assert "Payments already in dunning follow your changes from their next step on" in page
    # Channels are checkboxes with plain names; tones in words.
    assert 'type="checkbox" name="steps-0-channels" value="in_app"' in page
    assert "Message in the member app" in page
    assert "Final notice" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"steps-3-day_offset": "13"},
            "steps-3-day_offset",
            "Every reminder must come by the final action (day 12)",
        ),
        ({"steps-2-day_offset": "3"}, "steps-2-day_offset", "Another reminder is already on day 3"),
        (
            {"steps-1-channels": ["email", "fax"]},
            "steps-1-channels",
            "Unknown channel &#x27;fax&#x27;; use email, sms, in_app, call",
        ),
        ({"steps-1-channels": None}, "steps-1-channels", "Choose at least one channel"),
        (
            {"block_access_after_days": "3"},
            "block_access_after_days",
            "Must not come before block bookings after days",
        ),
        (
            {"late_fee_bp": "150"},
            "late_fee_bp",
            "Ensure this value is less than or equal to 100.",
        ),
        (
            {"retry_days": "3, 12"},
            "retry_days",
            "Every retry must come before the final action (day 12)",
        ),
        ({"retry_days": "3, soon"}, "retry_days", "Give whole days separated by commas"),
        (
            {"late_fee_kind": "fixed", "late_fee_amount": "50.005", "late_fee_currency": "SEK"},
            "late_fee_amount",
            "",
        ),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_changes(
    client, policy, change, field, message
):
    before = policy_values(policy)
    url = reverse("staff-policy-edit", args=[policy.pk])
    for button in ("save", "preview"):
        response = client.post(url, form_data(**change, **{button: "1"}))
        assert response.status_code == 200
        page = text(response)
        assert "Nothing was saved" in page
        assert f'id="id_{field}_error"' in page  # the error, tied to its field
        assert f'href="#id_{field}"' in page  # and listed at the top, linked to it
        assert message in page
        assert "Preview of your changes" not in page
    policy.refresh_from_db()
    assert policy_values(policy) == before
    assert not StaffChange.objects.exists()


def test_the_service_refuses_too(org, manager, policy, staff_clock):
    """The rules hold without the form: the service checks the steps as a set."""
    from django.core.exceptions import ValidationError

    from dues.staff.services import staff_policy_save

    before = policy_values(policy)
    with pytest.raises(ValidationError) as refused:
        staff_policy_save(
            user=manager,
            organization_id=org.pk,
            policy=policy,
            fields={"late_fee_kind": "percent", "late_fee_bp": 15000},
            steps=[
                {"day_offset": 2, "channels": ["email"], "tone": "friendly"},
                {"day_offset": 2, "channels": ["pigeon"], "tone": "firm"},
                {"day_offset": 40, "channels": ["sms"], "tone": "final"},
            ],
            clock=staff_clock,
        )
    assert refused.value.message_dict == {
        "late_fee_bp": ["a late fee is at most 100% of the overdue invoice"],
        "steps[1].day_offset": ["another reminder is already on day 2"],
        "steps[1].channels": ["unknown channel 'pigeon'; use email, sms, in_app, call"],
        "steps[2].day_offset": ["every reminder must come by the final action (day 28)"],
    }
    policy.refresh_from_db()
    assert policy_values(policy) == before
    assert not StaffChange.objects.exists()


def test_a_plan_gets_its_own_policy(org, client, manager, policy, staff_clock):
    plan = make_plan(org, name="Students", price=29900)
    url = reverse("staff-policy-new")
    page = text(client.get(url))
    assert url == "/staff/dunning/new/"
    assert f'<option value="{plan.pk}">Students (Monthly)</option>' in page
    assert "All plans (the gym&#x27;s default policy)" not in page  # the gym has its default
    preview = text(client.post(url, form_data(plan=str(plan.pk), preview="1")))
    assert "A charge of SEK299.00 that fails today" in preview  # the plan's price
    assert DunningPolicy.objects.count() == 1
    response = client.post(url, form_data(name="Students", plan=str(plan.pk), save="1"))
    assert response.status_code == 302, text(response)[:3000]
    created = DunningPolicy.objects.get(plan=plan)
    assert (created.organization, created.name, created.max_days) == (org, "Students", 12)
    assert [day for day, _, _ in steps_of(created)] == [0, 3, 8, 12]
    change = StaffChange.objects.get(target=f"dunning.policy:{created.pk}")
    assert change.before == {}
    assert change.after["plan"] == plan.pk
    assert change.summary == "Dunning policy Students created"
    # Every plan has its own now: nothing left to add.
    assert client.get(url).status_code == 302


def test_the_first_policy_can_be_the_gyms_default(org, client):
    page = text(client.get(reverse("staff-policy-new")))
    assert "All plans (the gym&#x27;s default policy)" in page
    # A new policy starts from the default reminder steps.
    assert 'name="steps-4-day_offset" value="21"' in page
    response = client.post(reverse("staff-policy-new"), form_data(plan="", save="1"))
    assert response.status_code == 302, text(response)[:3000]
    created = DunningPolicy.objects.get(organization=org)
    assert created.plan is None


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.TRAINER])
def test_desk_and_trainers_may_not(org, policy, staff_clock, role):
    client = client_for(make_staff(org, role, staff_clock, device=True), org)
    before = policy_values(policy)
    assert 'href="/staff/dunning/"' not in text(client.get(reverse("staff-members")))
    assert client.get(reverse("staff-policies")).status_code == 403
    for url in (reverse("staff-policy-edit", args=[policy.pk]), reverse("staff-policy-new")):
        assert client.get(url).status_code == 403
        assert client.post(url, form_data(save="1")).status_code == 403
    policy.refresh_from_db()
    assert policy_values(policy) == before
    assert DunningPolicy.objects.count() == 1
    assert not StaffChange.objects.exists()


def test_another_gyms_policy_is_not_found(org, client, staff_clock):
    other = make_org(staff_clock)
    theirs = policy_default(organization_id=other.pk, clock=staff_clock)
    before = policy_values(theirs)
    url = reverse("staff-policy-edit", args=[theirs.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, form_data(save="1")).status_code == 404
    theirs.refresh_from_db()
    assert policy_values(theirs) == before
    assert "Default dunning policy" not in text(client.get(reverse("staff-policies")))
    assert not StaffChange.objects.exists()
