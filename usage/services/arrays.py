"""Columns of many rows sent to PostgreSQL as array literals, one text parameter each, for
`INSERT ... SELECT * FROM unnest(%s::bigint[], ...)`.

Django's PostgreSQL cursors bind on the client: a Python list of 50,000 values went through
psycopg's array dumper value by value (about 2 s for a year of allocation totals); the same column
joined here into one `{...}` literal costs a few milliseconds.
"""


def _quoted(value):
    if value is None:
        return "NULL"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values, text=False):
    """`values` (numbers, dates, Decimals; or, with `text`, strings) as a PostgreSQL array literal."""
    if text:
        return "{" + ",".join(map(_quoted, values)) + "}"
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


def columns_of(rows, text_columns=()):
    """The rows (tuples of one shape) as one array literal per column; columns whose index is in
    `text_columns` are quoted."""
    return [array_literal(column, text=index in text_columns) for index, column in enumerate(zip(*rows))] if rows else []
