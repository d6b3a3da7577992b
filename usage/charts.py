"""Server-rendered SVG bar charts: no chart library, no CDN, no JavaScript, and the same on every screen.

Each chart is an image with a title and a description for screen readers; each bar carries its
value in a <title> (a tooltip); the page also offers the numbers as a table.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .choices import RecordKind
from .selectors.report import SUMMARY_KEPT_SECONDS

WIDTH, HEIGHT = 760, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (1 for nothing)."""
    if value <= 0:
        return Decimal(1)
    value = Decimal(value)
    magnitude = Decimal(10) ** (value.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        candidate = magnitude * factor
        if candidate >= value:
            return candidate
    return magnitude * 10


def _label(value, money):
    if money:
        return f"{value:,.2f}"
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.1f}"


def bar_chart(points, *, chart_id, title, description, value_of, money=False, color="#0f5bb5"):
    values = [value_of(p) for p in points]
    # Four gridlines a "nice" step apart (1, 2, 2.5 or 5 times a power of ten; whole numbers for counts).
    step = nice_ceiling(Decimal(max(values, default=0)) / 4)
    if not money and step < 1:
        step = Decimal(1)
    top = step * 4
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    count = max(len(points), 1)
    slot = plot_w / count
    bar_w = max(slot * 0.8, 1)
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for i in range(5):
        grid_value = step * i
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{_label(grid_value, money)}</text>')
    scale = plot_h / float(top)
    for index, (point, value) in enumerate(zip(points, values, strict=True)):
        if not value:
            continue
        h = max(float(value) * scale, 1.0)
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = TOP + plot_h - h
        parts.append(
            f'<rect x="{x:.2f}" y="{y:.2f}" width="{bar_w:.2f}" height="{h:.2f}" fill="{color}">'
            f"<title>{point.day:%Y-%m-%d}: {_label(value, money)}</title></rect>"
        )
    ticks = sorted({0, count - 1, *[round(count * k / 6) for k in range(1, 6)]} & set(range(count)))
    for index in ticks:
        x = LEFT + index * slot + slot / 2
        anchor = "start" if index == 0 and count > 1 else ("end" if index == count - 1 and count > 1 else "middle")
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" class="axis">{points[index].day:%b %d}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="baseline"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or a number


def data_rows_html(points):
    """The chart's numbers as table rows (day, records, units, charges), for screen readers and copying."""
    parts = []
    for p in points:
        parts.append(
            f'<tr><td>{p.day.isoformat()}</td><td class="num">{p.records}</td><td class="num">{p.units}</td>'
            f'<td class="num">{p.charge:.2f}</td></tr>'
        )
    return mark_safe("".join(parts))  # noqa: S308 - dates and numbers only


@dataclass(frozen=True)
class ReportFigures:
    """What the report page draws from a range's summary: its two charts (title, SVG) and the chart's
    numbers as table rows."""

    charts: tuple
    rows_html: str


def report_figures(summary, kind) -> ReportFigures:
    noun, counted = ("SMS", "SMS") if kind == RecordKind.SMS else ("Calls", "calls")
    currency = summary.currency
    specs = [
        (f"{noun} per day", "chart-records",
         f"{summary.records:,} {counted} from {summary.start:%B %d, %Y} to {summary.end:%B %d, %Y}, one bar per UTC day.",
         lambda p: p.records, False, "#0f5bb5"),
        (f"Credit charges per day ({currency})", "chart-charges",
         f"{summary.charge:,.2f} {currency} charged to Communications Credits in the range, one bar per UTC day.",
         lambda p: p.charge, True, "#a04e00"),
    ]
    charts = tuple(
        {"title": title, "svg": bar_chart(summary.days, chart_id=chart_id, title=title, description=description, value_of=value_of, money=money, color=color)}
        for title, chart_id, description, value_of, money, color in specs
    )
    return ReportFigures(charts=charts, rows_html=data_rows_html(summary.days))


def kept_report_figures(summary_key, summary, kind) -> ReportFigures:
    """report_figures(), kept in the cache beside the summary they are drawn from and under its key
    (usage.selectors.report.summary_key): they change when it does. Drawing a year's two charts
    costs about 3 ms, on every view of the page otherwise."""
    return cache.get_or_set(f"{summary_key}:figures", lambda: report_figures(summary, kind), SUMMARY_KEPT_SECONDS)
