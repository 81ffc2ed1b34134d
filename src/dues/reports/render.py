"""Reports as text: an aligned table for people, CSV (amounts in major units) for tools."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from dues.core.money import format_money, to_decimal
from dues.reports.selectors import AgingRow, Arrears, RecoveryRow, ratio

RECOVERY_FIELDS = [
    "month",
    "currency",
    "decline_code",
    "failed_invoices",
    "failed_amount",
    "recovered_invoices",
    "recovered_amount",
    "recovery_rate",
    "recovered_amount_rate",
]


def _rate(value: object) -> str:
    return "" if value is None else f"{value:.2%}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "".join(
        "  ".join(
            str(c).ljust(w) if i < 3 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        + "\n"
        for line in lines
    )


def recovery_text(rows: Sequence[RecoveryRow], fmt: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(RECOVERY_FIELDS)
        for r in rows:
            writer.writerow(
                [
                    r.month,
                    r.currency,
                    r.decline_code,
                    r.failed_invoices,
                    to_decimal(r.failed_amount, r.currency),
                    r.recovered_invoices,
                    to_decimal(r.recovered_amount, r.currency),
                    "" if r.recovery_rate is None else r.recovery_rate,
                    "" if r.recovered_amount_rate is None else r.recovered_amount_rate,
                ]
            )
        return out.getvalue()
    header = [
        "month",
        "currency",
        "decline code",
        "failed",
        "amount",
        "recovered",
        "amount",
        "rate",
        "amount rate",
    ]
    return _table(
        header,
        [
            [
                r.month,
                r.currency,
                r.decline_code,
                str(r.failed_invoices),
                format_money(r.failed_amount, r.currency),
                str(r.recovered_invoices),
                format_money(r.recovered_amount, r.currency),
                _rate(r.recovery_rate),
                _rate(r.recovered_amount_rate),
            ]
            for r in rows
        ],
    )


def arrears_text(arrears: Arrears, fmt: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "payer_id",
                "name",
                "currency",
                "invoices",
                "amount",
                "oldest_due",
                "days_overdue",
                "in_dunning",
            ]
        )
        for p in arrears.payers:
            writer.writerow(
                [
                    p.payer_id,
                    p.name,
                    p.currency,
                    p.invoices,
                    to_decimal(p.amount, p.currency),
                    p.oldest_due.isoformat(),
                    p.days_overdue,
                    "yes" if p.in_dunning else "no",
                ]
            )
        return out.getvalue()
    text = f"Overdue on {arrears.as_of}, by days overdue\n\n"
    text += _aging(arrears.buckets)
    if arrears.payers:
        text += "\nBy payer, largest first\n\n" + _table(
            ["payer", "name", "currency", "invoices", "amount", "oldest due", "days"],
            [
                [
                    str(p.payer_id),
                    p.name,
                    p.currency,
                    str(p.invoices),
                    format_money(p.amount, p.currency),
                    str(p.oldest_due),
                    str(p.days_overdue),
                ]
                for p in arrears.payers
            ],
        )
    return text


def _aging(buckets: Sequence[AgingRow]) -> str:
    totals: dict[str, tuple[int, int]] = {}
    for b in buckets:
        n, amount = totals.get(b.currency, (0, 0))
        totals[b.currency] = (n + b.invoices, amount + b.amount)
    rows = [
        [
            b.bucket,
            b.currency,
            "",
            str(b.invoices),
            format_money(b.amount, b.currency),
            _rate(ratio(b.amount, totals[b.currency][1])),
        ]
        for b in buckets
    ]
    rows += [
        ["total", c, "", str(n), format_money(amount, c), "100.00%"]
        for c, (n, amount) in sorted(totals.items())
    ]
    return _table(["days", "currency", "", "invoices", "amount", "share"], rows)
