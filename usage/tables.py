"""The report's tables. Each column is declared once, as a ReportColumn: its label and how its value
reads (for django-tables2), the plain function that renders its cell on the page, the field the page
sorts by, and whether it holds a number.

django-tables2 spends about 50 microseconds on a cell (bound rows, bound columns, accessors); a page
of 50 rows of 18 columns is then 40-60 ms of the 100 ms a page may take on a million-row table. The
page renders the same values with one small function per column instead (no query, template or
context processor per cell), and a test holds them equal to what django-tables2 renders.
"""

import functools
from html import escape
from operator import attrgetter

import django_tables2 as tables
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

from .choices import Rating, RecordKind
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


class ReportColumn(tables.Column):
    """A column of a report, declared once.

    - `text`: the cell's text from the column's value (the value itself when None), for
      django-tables2 and for the page alike;
    - `cell`: the cell's text from the record, what the page renders; by default `text` of the
      attribute the column reads (its accessor, or its name), made when the table is declared (see
      ReportTable). A column that reads across a relation gives its own;
    - `sort`: the model field the page sorts and pages by (the id breaks ties); None: not sortable;
    - `indexed`: an index serves the sort at any size (the records' (organization, time, id) index), so
      the column sorts over any range; any other sortable column sorts only over ranges that hold at
      most usage.paging.SORT_IN_DATABASE_ROWS records (see usage.paging);
    - `numeric`: a number, right-aligned (the `num` class of its header and cells);
    - `links_record`: the cell links to the record's "Why this charge" page (usage:record); an empty cell
      stays empty.
    """

    def __init__(self, verbose_name, *, text=None, cell=None, sort=None, indexed=False, numeric=False, links_record=False, **kwargs):
        if numeric:
            kwargs["attrs"] = {"td": {"class": "num"}, "th": {"class": "num"}}
        super().__init__(verbose_name, orderable=sort is not None, **kwargs)
        self.text = text
        self.cell = cell
        self.sort = sort
        self.indexed = indexed
        self.numeric = numeric
        self.links_record = links_record

    def render(self, value, record, table):
        text = value if self.text is None else self.text(value)
        return record_link(table.KIND, record.pk, text) if self.links_record else text


_URL_PARTS = {}
_PK_MARK = 987654321


def record_url(kind, pk):
    """The address of a record's "Why this charge" page: reversed once per kind (and script prefix),
    since reverse() costs about 30 microseconds and a page of the report links 50 to 100 cells."""
    key = (kind, get_script_prefix())
    parts = _URL_PARTS.get(key)
    if parts is None:
        parts = _URL_PARTS[key] = reverse("usage:record", kwargs={"kind": kind, "pk": _PK_MARK}).split(str(_PK_MARK))
    return f"{parts[0]}{pk}{parts[1]}"


def record_link(kind, pk, text):
    """`text` as a link to the record's page, escaped; "" stays "" (no empty link)."""
    if not text:
        return text
    return SafeString(f'<a href="{record_url(kind, pk)}">{escape(str(text))}</a>')


def linked_cell(kind, cell):
    return lambda record: record_link(kind, record.pk, cell(record))


def attribute_cell(attribute, text):
    """The cell of a column that shows one attribute of the record, through `text` when given."""
    value_of = attrgetter(attribute)
    if text is None:
        return value_of
    return lambda record: text(value_of(record))


class ReportTable(tables.Table):
    """A report's table; its columns are ReportColumns, each carrying its own cell (see the module)."""

    DEFAULT_HIDDEN = ()
    # Relations the cells read, fetched with the rows of a page.
    SELECT_RELATED = ()
    # The report's kind (usage.choices.RecordKind), which a record's page is addressed by.
    KIND = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, column in cls.base_columns.items():
            if column.cell is None:
                column.cell = attribute_cell(str(column.accessor or name), column.text)
            if column.links_record:
                column.cell = linked_cell(cls.KIND, column.cell)

    @classmethod
    def column_choices(cls):
        return list(_column_choices(cls))


@functools.cache
def _column_choices(table_class):
    """(name, label) of every column, in order: declared once per class, so built once per process
    (it built a django-tables2 table on every view of the report)."""
    return tuple((c.name, str(c.verbose_name)) for c in table_class([]).columns.all())


def phone_number_cell(record):
    return record.person.phone_number if record.person_id and record.person else ""


class CallRecordTable(ReportTable):
    start_time = ReportColumn("Time stamp (UTC)", text=time_text, sort="start_time", indexed=True)
    display_name = ReportColumn("Display name")
    upn = ReportColumn("Username", sort="upn")
    phone_number = ReportColumn("Phone number", accessor="person__phone_number", default="", cell=phone_number_cell)
    call_type = ReportColumn("Call type", sort="call_type")
    callee_number = ReportColumn("Called to")
    to_country = ReportColumn("To country or region", empty_values=())
    caller_number = ReportColumn("Called from")
    from_country = ReportColumn("From country or region", empty_values=())
    charge = ReportColumn("Charge", text=money_text, sort="charge", numeric=True)
    currency = ReportColumn("Currency")
    duration = ReportColumn("Duration", accessor="duration_seconds", text=duration_text, sort="duration_seconds", numeric=True)
    destination_context = ReportColumn("Domestic/International")
    call_id = ReportColumn("Call ID")
    number_type = ReportColumn("Number type")
    user_location = ReportColumn("Country or region")
    conference_id = ReportColumn("Conference ID")
    capability = ReportColumn("Capability")
    rating = ReportColumn("Who pays", text=rating_text, links_record=True)
    rating_reason = ReportColumn("Why", links_record=True)

    DEFAULT_HIDDEN = ("rating_reason",)
    SELECT_RELATED = ("person",)
    KIND = RecordKind.PSTN

    class Meta:
        model = CallRecord
        fields = ()
        attrs = {"class": "data-table"}
        order_by = ("-start_time",)
        empty_text = "No calls in this range."
        default = ""


class SmsRecordTable(ReportTable):
    sent_time = ReportColumn("Time stamp (UTC)", text=time_text, sort="sent_time", indexed=True)
    display_name = ReportColumn("Display name")
    upn = ReportColumn("Username", sort="upn")
    sms_type = ReportColumn("Direction")
    destination_number = ReportColumn("Sent to")
    destination_name = ReportColumn("Destination name")
    source_number = ReportColumn("Sent from")
    segments = ReportColumn("Units", text=str, sort="segments", numeric=True)
    charge = ReportColumn("Charge", text=money_text, sort="charge", numeric=True)
    currency = ReportColumn("Currency")
    destination_context = ReportColumn("Domestic/International")
    user_location = ReportColumn("Country or region")
    capability = ReportColumn("Capability")
    sms_id = ReportColumn("SMS ID")
    rating = ReportColumn("Who pays", text=rating_text, links_record=True)
    rating_reason = ReportColumn("Why", links_record=True)

    DEFAULT_HIDDEN = ("rating_reason",)
    KIND = RecordKind.SMS

    class Meta:
        model = SmsRecord
        fields = ()
        attrs = {"class": "data-table"}
        order_by = ("-sent_time",)
        empty_text = "No SMS in this range."
        default = ""


def fast_rows(table_class, records, visible):
    """Rows of (text, is_numeric) cells for the visible columns, in table order."""
    columns = table_class.base_columns
    cells = [(columns[name].cell, columns[name].numeric) for name in visible]
    return [[(cell(record), numeric) for cell, numeric in cells] for record in records]


def rows_html(rows):
    """The <tr> elements of `fast_rows`, every value escaped (but a link a linked column made, whose
    text record_link escaped): a template loop costs more per cell than the cell itself, and a page
    of a report shows nearly a thousand cells."""
    parts = []
    for row in rows:
        parts.append("<tr>")
        for text, numeric in row:
            parts.append('<td class="num">' if numeric else "<td>")
            parts.append(text if text.__class__ is SafeString else escape(text))
            parts.append("</td>")
        parts.append("</tr>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
