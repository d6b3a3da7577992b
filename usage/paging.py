"""Keyset paging of a report's table, with its headers: a view names the table and the rows, and
`TablePage` reads the query string (sort, after, before, page=last) into one page of rows, the
links to the pages around it, and the column headers (sort links, aria-sort).

Pages are read by keyset on (sort value, id): no OFFSET, and no COUNT (the total, when the caller
knows it, comes from the report's per-day totals). What the page knows of a column (label, sort
field, numeric, whether an index serves its order) comes from its declaration,
usage.tables.ReportColumn.

Sorting by a column that no index serves reads every record the range and filters let through and
keeps the best page of them (a top-N sort): fast for a few tens of thousands of rows, about a second
for a million. Such a column is offered as sortable only when the caller says the sort reads at most
SORT_IN_DATABASE_ROWS records (`sort_rows`); over more, its header is plain text and a hand-made
`sort=` for it is refused (`TablePage.refused`), so the view answers with the default order and a
message rather than a slow page. An index per such column would make every sort fast, but each one
costs every import (bench/report_sort.py, docs/usage.md).
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone

from .tables import fast_rows, rows_html

PER_PAGE = 50
# The most records a sort by a column without an index may read for one page. bench/report_sort.py
# (docs/performance.md, "Sorting the report"): at this many such a page took 1.6-2.6x the default
# order's page of the same range in the same run, about 50-80 ms where that page takes 31 ms. Measured by
# hand under the same load, the page's read alone took about 115 ms at 52,000 records, 155 ms at 98,600.
SORT_IN_DATABASE_ROWS = 50_000


class Cursor:
    """Where a page starts: the sort value and id of a row, and that row's position when known."""

    @staticmethod
    def encode(value, pk, position):
        if isinstance(value, datetime):
            value = ["t", value.isoformat()]
        elif isinstance(value, Decimal):
            value = ["d", str(value)]
        raw = json.dumps([value, pk, position], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            value, pk, position = json.loads(raw)
            if isinstance(value, list) and len(value) == 2 and value[0] == "t":
                value = datetime.fromisoformat(value[1])
            elif isinstance(value, list) and len(value) == 2 and value[0] == "d":
                value = Decimal(value[1])
            elif not isinstance(value, (int, str)) and value is not None:
                return None
            if not isinstance(pk, int) or not (position is None or isinstance(position, int)):
                return None
            return value, pk, position
        except (ValueError, TypeError):
            return None


@dataclass
class KeysetPage:
    rows: list
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    first_position: int | None = None  # 1-based position of the first row, when known
    total: int | None = None

    @property
    def last_position(self):
        if self.first_position is None:
            return None
        return self.first_position + len(self.rows) - 1


def _order(field, nullable, descending):
    """The ORDER BY term of the sort field. A nullable field puts NULL below every value (last going
    down, first going up), so that the reverse order is the way back; a field that is never NULL is
    left plain, because `NULLS LAST` on a descending sort would no longer match its index."""
    if not nullable:
        return f"-{field}" if descending else field
    return F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_first=True)


def _beyond(field, value, pk, below):
    """Rows after the anchor (value, pk) in (field, pk) order with NULL lowest: below it when `below`."""
    op = "lt" if below else "gt"
    if value is None:
        past_nulls = Q(**{f"{field}__isnull": True, f"pk__{op}": pk})
        return past_nulls if below else past_nulls | Q(**{f"{field}__isnull": False})
    # `field <= value` (or >=) first: the bound an index on (field, id) can start from.
    inclusive = Q(**{f"{field}__{op}e": value}) & (Q(**{f"{field}__{op}": value}) | Q(**{f"pk__{op}": pk}))
    return inclusive | Q(**{f"{field}__isnull": True}) if below else inclusive


def anchor_value(model, field, value):
    """A cursor's sort value as the field holds it, or raise ValueError (a cursor made for another
    column, or by hand)."""
    if value is None:
        if not model._meta.get_field(field).null:
            raise ValueError("no NULL in this column")
        return None
    try:
        value = model._meta.get_field(field).to_python(value)
    except (ValidationError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(str(exc)) from None
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_fixed_timezone(0))
    return value


def keyset_page(queryset, *, sort_field, descending, per_page, after=None, before=None, last=False, total=None, narrow=False):
    """One page of `queryset` ordered by (sort_field, pk), without OFFSET and without COUNT.

    `after` / `before` are cursors (decoded); `last` asks for the final page. The page is fetched in
    the direction of travel with one row more than needed, which says whether there is another. A
    cursor whose value does not fit the column (made for another sort, or by hand) is ignored: the
    first page.

    `narrow`: for a sort no index serves, the page's ids are chosen first, sorting only (value, id),
    then its rows are read with their relations: otherwise PostgreSQL joins the relations of every
    record of the range before it sorts, which made such a page about three times slower.
    """
    model = queryset.model
    nullable = model._meta.get_field(sort_field).null
    anchor = after or before
    if anchor:
        try:
            anchor = (anchor_value(model, sort_field, anchor[0]), anchor[1], anchor[2])
        except ValueError:
            anchor = after = before = None
    forward = not (before or last)
    sign_desc = descending if forward else not descending
    ordered = queryset.order_by(_order(sort_field, nullable, sign_desc), "-pk" if sign_desc else "pk")
    position = None
    if anchor:
        value, pk, position = anchor
        ordered = ordered.filter(_beyond(sort_field, value, pk, below=sign_desc))
    if narrow:
        chosen = ordered.values("pk")[: per_page + 1]
        ordered = queryset.filter(pk__in=chosen).order_by(*ordered.query.order_by)
    fetched = list(ordered[: per_page + 1])
    more = len(fetched) > per_page
    rows = fetched[:per_page]
    if not forward:
        rows.reverse()
    if forward:
        has_next, has_previous = more, bool(after)
        first = 1 if not after else (position + 1 if position is not None else None)
    else:
        has_next, has_previous = bool(before), more
        if last:
            first = (total - len(rows) + 1) if total is not None else None
        else:
            first = (position - len(rows)) if position is not None else None
    if first is not None and first < 1:
        first = 1
    page = KeysetPage(rows=rows, has_next=has_next, has_previous=has_previous, first_position=first, total=total)
    if rows:
        head, tail = rows[0], rows[-1]
        last_pos = page.last_position
        page.next_cursor = Cursor.encode(getattr(tail, sort_field), tail.pk, last_pos)
        page.previous_cursor = Cursor.encode(getattr(head, sort_field), head.pk, first)
    return page


def sort_of(table_class, value):
    """(column name, descending) that a `sort` parameter asks for; the table's default order when
    no sortable column has that name."""
    name = value.lstrip("-") if value.count("-") <= 1 else ""
    column = table_class.base_columns.get(name)
    if column is None or column.sort is None:
        return default_sort(table_class)
    return name, value.startswith("-")


def default_sort(table_class):
    default = table_class._meta.order_by[0]
    return default.lstrip("-"), default.startswith("-")


def sortable_here(column, sort_rows):
    """Whether the page offers to sort by `column` when a sort would read `sort_rows` records (None:
    not known, no limit): always for a column an index serves, else up to SORT_IN_DATABASE_ROWS."""
    if column.sort is None:
        return False
    return column.indexed or sort_rows is None or sort_rows <= SORT_IN_DATABASE_ROWS


class TablePage:
    """One page of `rows` in a report table (a usage.tables.ReportTable), as the query string
    `data` asks for it.

    `query` holds what every link keeps (the report's range and filters); `visible` names the
    columns shown, in order; `total`, when known, gives the rows' positions ("Rows 51-100 of 120");
    `sort_rows` is how many records a sort by a column without an index would read (see the module).
    When `data` asks for a sort that is not offered here, `refused` names the column and the page is
    the default order (the view redirects with a message before reading it).
    """

    def __init__(self, table_class, rows, data, *, query, visible, total=None, per_page=PER_PAGE, sort_rows=None):
        self.table_class = table_class
        self.query = query
        self.visible = visible
        self.sort_rows = sort_rows
        self.sort_param = data.get("sort", "")
        self.sort_name, self.descending = sort_of(table_class, self.sort_param)
        self.refused = None
        if not sortable_here(table_class.base_columns[self.sort_name], sort_rows):
            self.refused = table_class.base_columns[self.sort_name]
            self.sort_name, self.descending = default_sort(table_class)
            self.sort_param = ""
        self._rows = rows
        self._data = data
        self._per_page = per_page
        self._total = total

    @cached_property
    def page(self):
        rows, data = self._rows, self._data
        if self.table_class.SELECT_RELATED:
            rows = rows.select_related(*self.table_class.SELECT_RELATED)
        return keyset_page(
            rows,
            sort_field=self.table_class.base_columns[self.sort_name].sort,
            descending=self.descending,
            per_page=self._per_page,
            after=Cursor.decode(data["after"]) if data.get("after") and not self.refused else None,
            before=Cursor.decode(data["before"]) if data.get("before") and not self.refused else None,
            last=data.get("page") == "last",
            total=self._total,
            narrow=not self.table_class.base_columns[self.sort_name].indexed,
        )

    @cached_property
    def unsortable_here(self):
        """Labels of the visible columns that sort elsewhere but not over this range: the hint names them."""
        columns = self.table_class.base_columns
        return [str(columns[n].verbose_name) for n in self.visible if columns[n].sort is not None and not sortable_here(columns[n], self.sort_rows)]

    @cached_property
    def rows(self):
        """The page's cells: rows of (text, is_numeric), for the visible columns."""
        return fast_rows(self.table_class, self.page.rows, self.visible)

    @cached_property
    def rows_html(self):
        return rows_html(self.rows)

    @cached_property
    def headers(self):
        """The visible columns' headers: label, numeric, and for a sortable column its sort link
        (descending first, then the other way) and aria-sort when the page is sorted by it."""
        headers = []
        for name in self.visible:
            column = self.table_class.base_columns[name]
            header = {"name": name, "label": str(column.verbose_name), "numeric": column.numeric, "href": "", "aria_sort": "",
                      "sort_unavailable": column.sort is not None and not sortable_here(column, self.sort_rows)}
            if column.sort is not None and not header["sort_unavailable"]:
                query = self.query.copy()
                query["sort"] = name if (name == self.sort_name and self.descending) else f"-{name}"
                if name == self.sort_name:
                    header["aria_sort"] = "descending" if self.descending else "ascending"
                header["href"] = "?" + query.urlencode()
            headers.append(header)
        return headers

    @cached_property
    def links(self):
        """First, previous, next and last page links ("" where there is no such page), keeping the sort."""

        def link(**extra):
            query = self.query.copy()
            if self.sort_param:
                query["sort"] = self.sort_param
            for key, value in extra.items():
                query[key] = value
            return "?" + query.urlencode()

        page = self.page
        return {
            "first": link() if page.has_previous else "",
            "previous": link(before=page.previous_cursor) if page.has_previous else "",
            "next": link(after=page.next_cursor) if page.has_next else "",
            "last": link(page="last") if page.has_next else "",
        }
