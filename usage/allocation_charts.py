"""The chart of "Where the credits go": horizontal bars, server-rendered SVG like usage/charts.py (no
chart library, no script, nothing inline that a strict Content-Security-Policy refuses). The page
shows the same numbers as a table."""

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import mark_safe

from .charts import nice_ceiling

WIDTH, LABEL_W, RIGHT, BAR_H, GAP, TOP = 760, 220, 90, 18, 8, 8
MOST_BARS = 12


def chart_rows(rows, most=MOST_BARS):
    """(label, charge) of the largest rows; the rest as one bar, "Everything else"."""
    shown = [(row.label, row.charge) for row in rows[:most]]
    rest = sum((row.charge for row in rows[most:]), Decimal(0))
    if rest:
        shown.append((f"Everything else ({len(rows) - most})", rest))
    return shown


def spend_chart(rows, *, chart_id, title, description, currency, color="#0f5bb5"):
    bars = chart_rows(rows)
    top = nice_ceiling(max((value for _, value in bars), default=0))
    height = TOP * 2 + max(len(bars), 1) * (BAR_H + GAP)
    plot_w = WIDTH - LABEL_W - RIGHT
    parts = [
        f'<svg class="chart allocation-chart" id="{chart_id}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, (label, value) in enumerate(bars):
        y = TOP + index * (BAR_H + GAP)
        w = max(float(value) / float(top) * plot_w, 1.0) if value else 0
        short = label if len(label) <= 32 else label[:31] + "…"
        amount = f"{value:,.2f} {currency}"
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + BAR_H - 4}" text-anchor="end" class="axis">{escape(short)}</text>')
        if w:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y}" width="{w:.2f}" height="{BAR_H}" fill="{color}">'
                f"<title>{escape(label)}: {escape(amount)}</title></rect>"
            )
        parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + BAR_H - 4}" class="axis">{escape(amount)}</text>')
    parts.append(f'<line x1="{LABEL_W}" y1="{TOP / 2}" x2="{LABEL_W}" y2="{height - TOP / 2}" class="baseline"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or a number
