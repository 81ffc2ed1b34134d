"""A sandbox gateway whose cards behave as a scenario says (``dues.ops.scenario``).

Every decision is a pure function of the seed, the member, the invoice's issue date,
the attempt number and the clock, so the fixed and the smart policy face the same
failures (common random numbers) and a run repeats exactly.

- An invoice's first attempt fails with the scenario's first-attempt rate, with a code
  drawn from its mix.
- A later attempt on the card that failed succeeds with that code's chance for the
  attempt's local day of month (days since payday), weekday, hour and hours since the
  first failure.
- An attempt on another card (the member updated it) succeeds with ``new_card_success``;
  if it fails, that card's failure starts afresh with a code from the mix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dues.billing.models import Invoice
from dues.core.clock import Clock
from dues.dunning.paydays import days_since_payday
from dues.ops.scenario import DeclineTruth, Scenario
from dues.payments.collect import attempt_key_parse
from dues.payments.gateways.base import ChargeRequest
from dues.payments.gateways.sandbox import SandboxGateway


def draw(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and ``parts`` (string seeding is
    stable across processes, unlike ``hash``)."""
    return random.Random("|".join(str(p) for p in (seed, *parts))).random()


@dataclass
class _Failure:
    token: str
    truth: DeclineTruth
    at: datetime


class ScenarioGateway(SandboxGateway):
    def __init__(self, scenario: Scenario, *, seed: int, clock: Clock) -> None:
        self.scenario = scenario
        self.seed = seed
        self.clock = clock
        self.zone = ZoneInfo(scenario.timezone)
        self.member_index: dict[int, int] = {}  # payer id → the scenario's member number
        self.failures: dict[int, _Failure] = {}  # invoice id → its open failure
        self._invoices: dict[int, tuple[int, date]] = {}

    def invoice_key(self, invoice_id: int) -> tuple[int, date]:
        """(the member's number in the scenario, the issue date): an invoice's identity
        that does not depend on database ids."""
        if invoice_id not in self._invoices:
            payer, issued = Invoice.objects.values_list("payer_id", "issue_date").get(pk=invoice_id)
            if issued is None:
                raise ValueError(f"invoice {invoice_id} is charged but was never issued")
            self._invoices[invoice_id] = (self.member_index.get(payer, payer), issued)
        return self._invoices[invoice_id]

    def _code(self, u: float) -> DeclineTruth:
        """The decline code a failure has, from a uniform draw ``u`` in [0, 1)."""
        acc = 0.0
        for truth in self.scenario.declines:
            acc += truth.share
            if u < acc:
                return truth
        return self.scenario.declines[-1]

    def _decide(self, request: ChargeRequest, prior_failures: int) -> tuple[bool, str]:
        invoice_id, number = attempt_key_parse(request.idempotency_key)
        member, issued = self.invoice_key(invoice_id)
        now = self.clock.now()
        u = draw(self.seed, member, issued, number)
        failure = self.failures.get(invoice_id)
        if failure is None or failure.token != request.token:
            chance = self.scenario.new_card_success if failure else 1.0
            chance *= 1 - (self.scenario.first_attempt_failure if number == 1 else 0.0)
            if u < chance:
                self.failures.pop(invoice_id, None)
                return True, ""
            truth = self._code(draw(self.seed, member, issued, number, "code"))
            self.failures[invoice_id] = _Failure(request.token, truth, now)
            return False, truth.code
        local = now.astimezone(self.zone)
        chance = failure.truth.chance(
            days_since_payday=days_since_payday(local.date(), self.scenario.paydays),
            weekday=local.weekday(),
            hour=local.hour,
            hours=(now - failure.at).total_seconds() / 3600,
        )
        if u < chance:
            del self.failures[invoice_id]
            return True, ""
        return False, failure.truth.code
