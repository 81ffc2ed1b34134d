"""Dunning policies through the API: the default and plan overrides, checked as a whole,
with reminder steps replaced together, and scoped to the caller's organization."""

from __future__ import annotations

import pytest

from dues.dunning.models import DunningPolicy, ReminderStep
from tests.factories import make_plan

pytestmark = pytest.mark.django_db

STEPS = [
    {"day_offset": 7, "channels": ["email", "sms"], "tone": "firm"},
    {"day_offset": 0, "channels": ["email"], "tone": "friendly"},
]


def test_default_policy_created_changed_and_checked(api, org):
    resp = api.post(
        "/api/v1/dunning-policies/",
        {"name": "Ours", "retry_mode": "smart", "max_days": 21, "steps": STEPS},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["plan"] is None
    assert [s["day_offset"] for s in body["steps"]] == [0, 7]
    pk = body["id"]

    bad = api.patch(f"/api/v1/dunning-policies/{pk}/", {"retry_mode": "fixed"}, format="json")
    assert bad.status_code == 400
    assert "fixed mode needs at least one retry day" in str(bad.json())
    assert DunningPolicy.objects.get(pk=pk).retry_mode == "smart"  # nothing half-written

    late = api.patch(f"/api/v1/dunning-policies/{pk}/", {"retry_days": [3, 30]}, format="json")
    assert "every retry must come before the final action (day 21)" in str(late.json())

    ok = api.patch(
        f"/api/v1/dunning-policies/{pk}/",
        {
            "retry_mode": "fixed",
            "retry_days": [3, 7],
            "steps": [{"day_offset": 1, "channels": ["in_app"], "tone": "friendly"}],
        },
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["retry_days"] == [3, 7]
    assert list(ReminderStep.objects.filter(policy_id=pk).values_list("day_offset", flat=True)) == [
        1
    ]

    again = api.post("/api/v1/dunning-policies/", {"name": "Second"}, format="json")
    assert again.status_code == 400
    assert "the organization already has a dunning policy" in str(again.json())
    gone = api.delete(f"/api/v1/dunning-policies/{pk}/")
    assert gone.status_code == 400
    assert "cannot be deleted" in str(gone.json())


def test_plan_override_and_organization_scope(api, other_api, org, other_org):
    plan = make_plan(org)
    foreign = make_plan(other_org)
    refused = api.post(
        "/api/v1/dunning-policies/", {"name": "x", "plan": foreign.pk}, format="json"
    )
    assert refused.status_code == 400
    assert f"no plan {foreign.pk}" in str(refused.json())
    resp = api.post(
        "/api/v1/dunning-policies/",
        {"name": "Students", "plan": plan.pk, "grace_days": 7, "final_action": "uncollectible"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    pk = resp.json()["id"]
    assert other_api.get(f"/api/v1/dunning-policies/{pk}/").status_code == 404
    assert other_api.patch(f"/api/v1/dunning-policies/{pk}/", {}, format="json").status_code == 404
    bad_step = api.patch(
        f"/api/v1/dunning-policies/{pk}/",
        {"steps": [{"day_offset": 0, "channels": ["fax"], "tone": "friendly"}]},
        format="json",
    )
    assert bad_step.status_code == 400
    assert "fax" in str(bad_step.json())
    assert api.delete(f"/api/v1/dunning-policies/{pk}/").status_code == 204
    assert not DunningPolicy.objects.filter(pk=pk).exists()


def test_experiment_report_through_the_api(api, other_api, org, clock):
    from dues.dunning.experiments import experiment_start
    from dues.dunning.services import policy_default

    policy = policy_default(organization_id=org.pk, clock=clock)
    experiment = experiment_start(
        policy=policy,
        name="Direct text",
        variants=[{"key": "control"}, {"key": "direct", "reminder_style": "direct"}],
        clock=clock,
    )
    listed = api.get("/api/v1/dunning-experiments/").json()["results"]
    assert [e["name"] for e in listed] == ["Direct text"]
    assert [v["key"] for v in listed[0]["variants"]] == ["control", "direct"]
    report = api.get(f"/api/v1/dunning-experiments/{experiment.pk}/report/").json()
    assert report == [
        {
            "key": k,
            "decided": 0,
            "recovered": 0,
            "pending": 0,
            "rate": None,
            "low": None,
            "high": None,
        }
        for k in ("control", "direct")
    ]
    assert other_api.get(f"/api/v1/dunning-experiments/{experiment.pk}/report/").status_code == 404
