"""Charts drawn on the server as inline SVG: no JavaScript, no build step.

``bar_chart`` and ``line_chart`` take one or more series of (label, value) pairs (every
series has the same labels) and a formatter for values (``money_format`` for amounts,
through ``notify.render.money_text``), and return a ``Chart``: the SVG (it scales to its
container through its viewBox), a one-sentence summary for its ``aria-label``, and the
same numbers as table rows, so the template can give screen readers and anyone who wants
the exact figures a table (``staff/dashboard.html`` puts it under the chart).

Series are told apart by more than colour: the second is hatched (bars) or dashed with
square markers (lines), and ``Chart.legend`` names each next to its key (the template
writes it in HTML, so it reads at any width). Colours have at least 3:1 contrast on white.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from babel.numbers import format_decimal
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from dues.core.money import exponent
from dues.notify.render import money_text

Format = Callable[[int], str]

# Viewbox and layout, in SVG user units.
WIDTH = 560
HEIGHT = 300
TOP = 32  # room for the top gridline's value
BOTTOM = 56  # room for two lines of labels along the bottom
MANY = 7  # more labels than this along the bottom: every other one hides on a phone
SIDE = 8
FONT = 16
# Fill, and how the series is told apart without colour (contrast on white ≥ 3:1:
# #1d4ed8 6.7:1, #b45309 5.0:1).
COLOURS = ("#1d4ed8", "#b45309")
INK = "#3f3f46"  # axis text, 10:1
GRID = "#d4d4d8"  # decorative: every gridline has its value written on it


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[str, int]]  # (label, value)


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str  # for aria-label
    svg: SafeString
    heading: str  # the table's heading over the labels ("Month")
    names: list[str]  # the table's headings over the values, one per series
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # label, values
    # With more than one series: (key drawn as in the chart, name), for an HTML legend.
    legend: list[tuple[SafeString, str]] = field(default_factory=list)


def money_format(currency: str, language: str) -> Format:
    """Amounts in minor units as the staff member's language writes money."""

    def fmt(amount: int) -> str:
        return money_text(amount, currency, language)

    return fmt


def count_format(language: str) -> Format:
    def fmt(value: int) -> str:
        return str(format_decimal(value, locale=translation.to_locale(language)))

    return fmt


def nice_step(raw: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ (n ≥ 0) at least ``raw``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= raw:
                return factor * magnitude
        magnitude *= 10


def nice_ticks(low: int, high: int, *, count: int = 4, unit: int = 1) -> list[int]:
    """Round values for gridlines covering [min(low, 0), max(high, 0)] in about ``count``
    steps of 1, 2 or 5 × 10ⁿ, each a whole multiple of ``unit`` (e.g. 100 for money in
    cents, so no gridline falls on a fraction of a krona). Always includes 0."""
    low, high = min(low, 0), max(high, 0)
    span = high - low
    step = max(nice_step(-(-span // count)) if span else unit, unit)
    if step % unit:
        step = nice_step(-(-step // unit)) * unit
    first = (low // step) * step
    last = -(-high // step) * step
    if first == last:
        last = first + step
    return list(range(first, last + step, step))


def money_unit(currency: str) -> int:
    """One major unit in minor units (100 for SEK, 1 for JPY)."""
    return int(10 ** exponent(currency))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _frame(
    series: Sequence[Series],
    fmt: Format,
    unit: int,
    ticks_for: Sequence[str] | None,
    second_line: Sequence[str] | None,
) -> tuple[list[str], list[str], Callable[[float], float]]:
    """The gridlines, the text to draw over the data (the gridlines' values and the
    labels along the bottom), and the value → y mapping."""
    labels = [label for label, _ in series[0].points]
    values = [v for s in series for _, v in s.points]
    ticks = nice_ticks(min(values, default=0), max(values, default=0), unit=unit)
    low, high = ticks[0], ticks[-1]
    bottom = HEIGHT - BOTTOM

    def y(value: float) -> float:
        return bottom - (value - low) * (bottom - TOP) / (high - low)

    grid: list[str] = []
    text: list[str] = []
    for tick in ticks:
        ty = y(tick)
        stroke = INK if tick == 0 else GRID
        grid.append(
            f'<line x1="{SIDE}" y1="{_num(ty)}" x2="{WIDTH - SIDE}" y2="{_num(ty)}" '
            f'stroke="{stroke}" stroke-width="1"/>'
        )
        text.append(_text(SIDE, ty - 4, fmt(tick), cls="value"))
    short = list(ticks_for) if ticks_for is not None else labels
    second = list(second_line) if second_line is not None else []
    slot = (WIDTH - 2 * SIDE) / max(len(labels), 1)
    last = len(short) - 1
    for i, label in enumerate(short):
        # On a narrow screen every other label is hidden when there are many (the latest
        # one always shows).
        cls = "odd" if len(short) > MANY and (last - i) % 2 else ""
        x = SIDE + slot * (i + 0.5)
        text.append(_text(x, HEIGHT - BOTTOM + FONT + 6, label, anchor="middle", cls=cls))
        if i < len(second) and second[i]:
            text.append(_text(x, HEIGHT - 6, second[i], anchor="middle", cls=cls))
    return grid, text, y


def _key(kind: str, i: int) -> SafeString:
    """A series' key for the legend, drawn as the series is: a solid or a hatched bar, a
    solid line with round markers or a dashed one with square markers."""
    colour = COLOURS[i]
    if kind == "bar" and i == 0:
        body = f'<rect x="1" y="1" width="16" height="16" fill="{colour}"/>'
    elif kind == "bar":
        body = (
            f'<rect x="1" y="1" width="16" height="16" fill="#fff" stroke="{colour}" '
            f'stroke-width="2"/><path d="M1 9L9 1M1 17L17 1M9 17L17 9" stroke="{colour}" '
            f'stroke-width="3"/>'
        )
    elif i == 0:
        body = (
            f'<line x1="0" y1="9" x2="28" y2="9" stroke="{colour}" stroke-width="3"/>'
            f'<circle cx="14" cy="9" r="4" fill="{colour}"/>'
        )
    else:
        body = (
            f'<line x1="0" y1="9" x2="28" y2="9" stroke="{colour}" stroke-width="3" '
            f'stroke-dasharray="8 5"/><rect x="10" y="5" width="8" height="8" fill="{colour}"/>'
        )
    width = 18 if kind == "bar" else 28
    return mark_safe(
        f'<svg width="{width}" height="18" viewBox="0 0 {width} 18" aria-hidden="true" '
        f'focusable="false">{body}</svg>'
    )


def _defs(uid: str) -> str:
    # The hatch id is made unique per chart so several charts on a page never share one.
    return (
        f'<defs><pattern id="hatch1-{uid}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<rect width="3" height="6" fill="{COLOURS[1]}"/></pattern></defs>'
    )


def _svg(uid: str, summary: str, body: list[str]) -> SafeString:
    inner = "".join(body).replace("url(#hatch1)", f"url(#hatch1-{uid})")
    # Safe: every text and attribute value is escaped; the rest is numbers.
    return mark_safe(
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(summary)}" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}" fill="{INK}">'
        f"{_defs(uid)}{inner}</svg>"
    )


def _summary(title: str, series: Sequence[Series], fmt: Format) -> str:
    parts = [title]
    for s in series:
        if not s.points:
            continue
        first_label, _first = s.points[0]
        last_label, last = s.points[-1]
        top_label, top = max(s.points, key=lambda p: p[1])
        low_label, low = min(s.points, key=lambda p: p[1])
        parts.append(
            _(
                "%(name)s, %(first)s to %(last)s: latest %(last_value)s (%(last)s), "
                "highest %(top_value)s (%(top)s), lowest %(low_value)s (%(low)s)"
            )
            % {
                "name": s.name,
                "first": first_label,
                "last": last_label,
                "last_value": fmt(last),
                "top": top_label,
                "top_value": fmt(top),
                "low": low_label,
                "low_value": fmt(low),
            }
        )
    return ". ".join(parts) + "."


def _rows(series: Sequence[Series], fmt: Format) -> list[tuple[str, list[str]]]:
    labels = [label for label, _ in series[0].points]
    return [(label, [fmt(s.points[i][1]) for s in series]) for i, label in enumerate(labels)]


def _legend(kind: str, series: Sequence[Series]) -> list[tuple[SafeString, str]]:
    if len(series) < 2:
        return []
    return [(_key(kind, i), s.name) for i, s in enumerate(series)]


def _check(series: Sequence[Series]) -> None:
    if not series:
        raise ValueError("a chart needs at least one series")
    if len(series) > len(COLOURS):
        raise ValueError(f"at most {len(COLOURS)} series")
    labels = [label for label, _ in series[0].points]
    for s in series[1:]:
        if [label for label, _ in s.points] != labels:
            raise ValueError("every series needs the same labels")


def bar_chart(
    *,
    uid: str,
    title: str,
    heading: str,
    series: Sequence[Series],
    fmt: Format,
    unit: int = 1,
    ticks: Sequence[str] | None = None,
    second_line: Sequence[str] | None = None,
) -> Chart:
    """Bars for each label, side by side when there are two series. ``uid`` names the
    chart on its page; ``heading`` is what the labels are (the table's first column);
    ``unit`` is the smallest gridline step; ``ticks`` are shorter labels for along the
    bottom (the table keeps the full ones), and ``second_line`` an optional line under
    them ("" where none, e.g. a year under each January)."""
    _check(series)
    grid, text, y = _frame(series, fmt, unit, ticks, second_line)
    n = len(series[0].points)
    slot = (WIDTH - 2 * SIDE) / max(n, 1)
    width = slot * 0.7 / len(series)
    bars: list[str] = []
    for k, s in enumerate(series):
        fill = COLOURS[k] if k == 0 else "url(#hatch1)"
        for i, (_label, value) in enumerate(s.points):
            x = SIDE + slot * i + slot * 0.15 + width * k
            top, base = sorted((y(value), y(0)))
            bars.append(
                f'<rect x="{_num(x)}" y="{_num(top)}" width="{_num(width)}" '
                f'height="{_num(max(base - top, 0))}" fill="{fill}" stroke="{COLOURS[k]}" '
                f'stroke-width="{2 if k else 0}"/>'
            )
    summary = _summary(title, series, fmt)
    return Chart(
        title=title,
        summary=summary,
        svg=_svg(uid, summary, [*grid, *bars, *text]),
        heading=heading,
        names=[s.name for s in series],
        rows=_rows(series, fmt),
        legend=_legend("bar", series),
    )


def line_chart(
    *,
    uid: str,
    title: str,
    heading: str,
    series: Sequence[Series],
    fmt: Format,
    unit: int = 1,
    ticks: Sequence[str] | None = None,
    second_line: Sequence[str] | None = None,
) -> Chart:
    """A line with a marker on each point (the second series dashed, with square
    markers); the latest value is written next to the last point."""
    _check(series)
    grid, text, y = _frame(series, fmt, unit, ticks, second_line)
    n = len(series[0].points)
    slot = (WIDTH - 2 * SIDE) / max(n, 1)
    lines: list[str] = []
    for k, s in enumerate(series):
        xy = [(SIDE + slot * (i + 0.5), y(v)) for i, (_label, v) in enumerate(s.points)]
        dash = ' stroke-dasharray="8 5"' if k else ""
        path = " ".join(f"{_num(px)},{_num(py)}" for px, py in xy)
        lines.append(
            f'<polyline points="{path}" fill="none" stroke="{COLOURS[k]}" stroke-width="3"{dash}/>'
        )
        for px, py in xy:
            if k:
                lines.append(
                    f'<rect x="{_num(px - 4)}" y="{_num(py - 4)}" width="8" height="8" '
                    f'fill="{COLOURS[k]}"/>'
                )
            else:
                lines.append(f'<circle cx="{_num(px)}" cy="{_num(py)}" r="4" fill="{COLOURS[k]}"/>')
        if xy:
            px, py = xy[-1]
            lines.append(_text(px, py - 10, fmt(s.points[-1][1]), anchor="end", cls="value latest"))
    summary = _summary(title, series, fmt)
    return Chart(
        title=title,
        summary=summary,
        svg=_svg(uid, summary, [*grid, *lines, *text]),
        heading=heading,
        names=[s.name for s in series],
        rows=_rows(series, fmt),
        legend=_legend("line", series),
    )
