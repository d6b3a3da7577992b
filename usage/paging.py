"""Keyset paging of a report's table, with its headers: a view names the table and the rows, and
`TablePage` reads the query string (sort, after, before, page=last) into one page of rows, the
links to the pages around it, and the column headers (sort links, aria-sort).

Pages are read by keyset on (sort value, id): no OFFSET, and no COUNT (the total, when the caller
knows it, comes from the report's per-day totals). What the page knows of a column (label, sort
field, numeric) comes from its declaration, usage.tables.ReportColumn.
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.db.models import Q

from .tables import fast_rows, rows_html

PER_PAGE = 50


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


def keyset_page(queryset, *, sort_field, descending, per_page, after=None, before=None, last=False, total=None):
    """One page of `queryset` ordered by (sort_field, pk), without OFFSET and without COUNT.

    `after` / `before` are cursors (decoded); `last` asks for the final page. The page is fetched in
    the direction of travel with one row more than needed, which says whether there is another.
    """
    forward = not (before or last)
    sign_desc = descending if forward else not descending
    prefix = "-" if sign_desc else ""
    ordered = queryset.order_by(f"{prefix}{sort_field}", f"{prefix}pk")
    anchor = after or before
    position = None
    if anchor:
        value, pk, position = anchor
        lt = sign_desc
        op = "lt" if lt else "gt"
        inclusive = "lte" if lt else "gte"
        if value is None:
            ordered = ordered.filter(**{f"{sort_field}__isnull": True, f"pk__{op}": pk})
        else:
            ordered = ordered.filter(**{f"{sort_field}__{inclusive}": value}).filter(
                Q(**{f"{sort_field}__{op}": value}) | Q(**{f"pk__{op}": pk})
            )
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
    name = value.lstrip("-")
    column = table_class.base_columns.get(name)
    if column is None or column.sort is None:
        default = table_class._meta.order_by[0]
        return default.lstrip("-"), default.startswith("-")
    return name, value.startswith("-")


class TablePage:
    """One page of `rows` in a report table (a usage.tables.ReportTable), as the query string
    `data` asks for it.

    `query` holds what every link keeps (the report's range and filters); `visible` names the
    columns shown, in order; `total`, when known, gives the rows' positions ("Rows 51-100 of 120").
    """

    def __init__(self, table_class, rows, data, *, query, visible, total=None, per_page=PER_PAGE):
        self.table_class = table_class
        self.query = query
        self.visible = visible
        self.sort_param = data.get("sort", "")
        self.sort_name, self.descending = sort_of(table_class, self.sort_param)
        if table_class.SELECT_RELATED:
            rows = rows.select_related(*table_class.SELECT_RELATED)
        self.page = keyset_page(
            rows,
            sort_field=table_class.base_columns[self.sort_name].sort,
            descending=self.descending,
            per_page=per_page,
            after=Cursor.decode(data["after"]) if data.get("after") else None,
            before=Cursor.decode(data["before"]) if data.get("before") else None,
            last=data.get("page") == "last",
            total=total,
        )

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
            header = {"name": name, "label": str(column.verbose_name), "numeric": column.numeric, "href": "", "aria_sort": ""}
            if column.sort is not None:
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
