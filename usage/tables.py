"""The report's tables: django-tables2 declares the columns (names, order, labels, sorting); the page
renders their cells with the plain functions below.

django-tables2 spends about 50 microseconds on a cell (bound rows, bound columns, accessors); a page
of 50 rows of 18 columns is then 40-60 ms of the 100 ms a page may take on a million-row table. The
same values come from one small function per column here (no query, template or context processor
per cell), and a test holds them equal to what django-tables2 renders.
"""

from html import escape

import django_tables2 as tables
from django.utils.safestring import mark_safe

from .choices import Rating
from .models import CallRecord, SmsRecord

RATING_LABELS = dict(Rating.choices)


def time_text(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration_text(seconds):
    hours, rest = divmod(seconds or 0, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def money_text(amount):
    return f"{amount:,.2f}" if amount is not None else ""


def rating_text(code):
    return RATING_LABELS.get(code, code)


class FastColumnsMixin:
    """Cells as plain functions of the record, by column name, for the page's lean renderer."""

    FAST = {}
    NUMERIC = frozenset()
    # Sortable columns: column name -> model field used for keyset paging (with id as tie-breaker).
    SORTS = {}
    DEFAULT_HIDDEN = ()

    @classmethod
    def column_choices(cls):
        table = cls([])
        return [(c.name, str(c.verbose_name)) for c in table.columns.all()]


class CallRecordTable(FastColumnsMixin, tables.Table):
    start_time = tables.Column("Time stamp (UTC)")
    display_name = tables.Column("Display name")
    upn = tables.Column("Username")
    phone_number = tables.Column("Phone number", accessor="person__phone_number", orderable=False, default="")
    call_type = tables.Column("Call type")
    callee_number = tables.Column("Called to", orderable=False)
    to_country = tables.Column("To country or region", orderable=False, empty_values=())
    caller_number = tables.Column("Called from", orderable=False)
    from_country = tables.Column("From country or region", orderable=False, empty_values=())
    charge = tables.Column("Charge", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    currency = tables.Column("Currency", orderable=False)
    duration = tables.Column("Duration", accessor="duration_seconds", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    destination_context = tables.Column("Domestic/International", orderable=False)
    call_id = tables.Column("Call ID", orderable=False)
    number_type = tables.Column("Number type", orderable=False)
    user_location = tables.Column("Country or region", orderable=False)
    conference_id = tables.Column("Conference ID", orderable=False)
    capability = tables.Column("Capability", orderable=False)
    rating = tables.Column("Who pays", orderable=False)
    rating_reason = tables.Column("Why", orderable=False)

    class Meta:
        model = CallRecord
        fields = ()
        attrs = {"class": "data-table"}
        order_by = ("-start_time",)
        empty_text = "No calls in this range."
        default = ""

    def render_start_time(self, value):
        return time_text(value)

    def render_charge(self, value):
        return money_text(value)

    def render_duration(self, value):
        return duration_text(value)

    def render_rating(self, value):
        return rating_text(value)

    FAST = {
        "start_time": lambda r: time_text(r.start_time),
        "display_name": lambda r: r.display_name,
        "upn": lambda r: r.upn,
        "phone_number": lambda r: r.person.phone_number if r.person_id and r.person else "",
        "call_type": lambda r: r.call_type,
        "callee_number": lambda r: r.callee_number,
        "to_country": lambda r: r.to_country,
        "caller_number": lambda r: r.caller_number,
        "from_country": lambda r: r.from_country,
        "charge": lambda r: money_text(r.charge),
        "currency": lambda r: r.currency,
        "duration": lambda r: duration_text(r.duration_seconds),
        "destination_context": lambda r: r.destination_context,
        "call_id": lambda r: r.call_id,
        "number_type": lambda r: r.number_type,
        "user_location": lambda r: r.user_location,
        "conference_id": lambda r: r.conference_id,
        "capability": lambda r: r.capability,
        "rating": lambda r: rating_text(r.rating),
        "rating_reason": lambda r: r.rating_reason,
    }
    NUMERIC = frozenset({"charge", "duration"})
    SORTS = {"start_time": "start_time", "upn": "upn", "call_type": "call_type", "charge": "charge", "duration": "duration_seconds"}
    DEFAULT_HIDDEN = ("rating_reason",)


class SmsRecordTable(FastColumnsMixin, tables.Table):
    sent_time = tables.Column("Time stamp (UTC)")
    display_name = tables.Column("Display name")
    upn = tables.Column("Username")
    sms_type = tables.Column("Direction", orderable=False)
    destination_number = tables.Column("Sent to", orderable=False)
    destination_name = tables.Column("Destination name", orderable=False)
    source_number = tables.Column("Sent from", orderable=False)
    segments = tables.Column("Units", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    charge = tables.Column("Charge", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    currency = tables.Column("Currency", orderable=False)
    destination_context = tables.Column("Domestic/International", orderable=False)
    user_location = tables.Column("Country or region", orderable=False)
    capability = tables.Column("Capability", orderable=False)
    sms_id = tables.Column("SMS ID", orderable=False)
    rating = tables.Column("Who pays", orderable=False)
    rating_reason = tables.Column("Why", orderable=False)

    class Meta:
        model = SmsRecord
        fields = ()
        attrs = {"class": "data-table"}
        order_by = ("-sent_time",)
        empty_text = "No SMS in this range."
        default = ""

    def render_sent_time(self, value):
        return time_text(value)

    def render_charge(self, value):
        return money_text(value)

    def render_rating(self, value):
        return rating_text(value)

    FAST = {
        "sent_time": lambda r: time_text(r.sent_time),
        "display_name": lambda r: r.display_name,
        "upn": lambda r: r.upn,
        "sms_type": lambda r: r.sms_type,
        "destination_number": lambda r: r.destination_number,
        "destination_name": lambda r: r.destination_name,
        "source_number": lambda r: r.source_number,
        "segments": lambda r: str(r.segments),
        "charge": lambda r: money_text(r.charge),
        "currency": lambda r: r.currency,
        "destination_context": lambda r: r.destination_context,
        "user_location": lambda r: r.user_location,
        "capability": lambda r: r.capability,
        "sms_id": lambda r: r.sms_id,
        "rating": lambda r: rating_text(r.rating),
        "rating_reason": lambda r: r.rating_reason,
    }
    NUMERIC = frozenset({"charge", "segments"})
    SORTS = {"sent_time": "sent_time", "upn": "upn", "charge": "charge", "segments": "segments"}
    DEFAULT_HIDDEN = ("rating_reason",)


def fast_rows(table_class, records, visible):
    """Rows of (text, is_numeric) cells for the visible columns, in table order."""
    cells = [(table_class.FAST[name], name in table_class.NUMERIC) for name in visible]
    return [[(cell(record), numeric) for cell, numeric in cells] for record in records]


def rows_html(rows):
    """The <tr> elements of `fast_rows`, every value escaped: a template loop costs more per cell
    than the cell itself, and a page of a report shows nearly a thousand cells."""
    parts = []
    for row in rows:
        parts.append("<tr>")
        for text, numeric in row:
            parts.append('<td class="num">' if numeric else "<td>")
            parts.append(escape(text))
            parts.append("</td>")
        parts.append("</tr>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
