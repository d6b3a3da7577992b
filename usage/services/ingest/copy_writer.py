"""Writing the records: lines in PostgreSQL COPY's text format, and the writer that sends them (or
inserts them in bulk on other databases)."""

from contextlib import contextmanager
from functools import partial

from django.db import connection

from ..cleaning import copy_text_key
from .kinds import Kind

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def _copy_text(value):
    """One value in COPY's text format, the slow way (see compile_copy_line)."""
    if value is None:
        return _COPY_NULL
    return f"{value}".translate(_COPY_ESCAPES)


def compile_copy_line(columns, nullable, times=(), constants=None):
    """A function `record -> line` in PostgreSQL COPY's text format, for records holding `columns`.

    psycopg's write_row spends about 6 microseconds on a row of these 35 columns, more than rating
    it; one f-string per record costs a fraction of that. Values are written as str() gives them
    (str, int, Decimal, datetime with its offset), which PostgreSQL reads back exactly; a time whose
    input text was already in PostgreSQL's form goes as that text (cleaning.copy_text_key); `constants`
    (column -> value, the same for every record) are written into the line's template. A line
    whose values hold a backslash, tab or line break is rebuilt value by value with COPY's escapes:
    the line is checked as a whole, counting the backslashes of the NULL markers it wrote itself.
    """
    local = {c: f"v{i}" for i, c in enumerate(columns) if c in nullable or c in times}
    fixed = {c: _copy_text(value) for c, value in (constants or {}).items()}
    env = {"NULL": _COPY_NULL, "slow": _copy_text, "COLUMNS": tuple(columns), "FIXED": fixed}
    lines = ["def copy_line(r):"]
    lines += [f"    {name} = r[{c!r}]" for c, name in local.items()]
    parts = []
    for i, c in enumerate(columns):
        name = local.get(c)
        if c in fixed:
            env[f"k{i}"] = fixed[c]
            parts.append(f"{{k{i}}}")
        elif c in times:
            text = f"t if (t := r[{copy_text_key(c)!r}]) is not None else {name}"
            parts.append(f"{{NULL if {name} is None else ({text})!s}}" if c in nullable else f"{{({text})!s}}")
        elif name:
            parts.append(f"{{NULL if {name} is None else {name}!s}}")
        else:
            parts.append(f"{{r[{c!r}]!s}}")
    lines.append('    line = f"' + "\\t".join(parts) + '"')
    backslashes = " + ".join([f"({local[c]} is None)" for c in columns if c in nullable and c not in fixed] + [str(sum(t.count("\\") for t in fixed.values()))])
    lines.append(f'    if line.count("\\\\") != {backslashes} or line.count("\\t") != {len(columns) - 1} or "\\n" in line or "\\r" in line:')
    lines.append('        line = "\\t".join([FIXED[c] if c in FIXED else slow(r[c]) for c in COLUMNS])')
    lines.append("    return line")
    exec("\n".join(lines), env)  # noqa: S102 - built above from the model's column names, never from input
    return env["copy_line"]


def compile_insert(model, columns, constants):
    """(INSERT statement, function `record -> parameters`) for databases without COPY.

    SQLite holds its one write lock while an import writes: Django's bulk_create spent about half a
    millisecond of it on each record (building a model instance and preparing every value), so a
    large upload kept every other organization waiting past the lock's timeout. Values go as they
    are but for the two kinds of field the database driver cannot take as such: times (made naive
    UTC text, as Django stores them) and UUIDs (as Django's field prepares them).
    """
    fields = {f.attname: f for f in model._meta.concrete_fields}
    prepare = {}
    for column in columns:
        kind = fields[column].get_internal_type()
        if kind == "DateTimeField":
            prepare[column] = connection.ops.adapt_datetimefield_value
        elif kind == "UUIDField":
            prepare[column] = partial(fields[column].get_db_prep_save, connection=connection)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    statement = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    steps = [(c, prepare.get(c), c in constants, constants.get(c)) for c in columns]

    def parameters(record):
        return [value if fixed else (step(record[c]) if step is not None else record[c]) for c, step, fixed, value in steps]

    return statement, parameters


class Writer:
    """Appends records: PostgreSQL COPY where available, inserts of a chunk at a time elsewhere.

    With PostgreSQL one COPY stays open across chunks, so the server stores rows while the next ones
    are read, checked and rated. Any other query on the connection first ends the COPY (a query
    cannot run while a COPY is open), through an execute wrapper installed for the import: a new
    person, a new month's pools or a duplicate check simply end it, and the next row starts another.
    Records are formatted into COPY's text format here (compile_copy_line) and sent a chunk at a time.
    Elsewhere (SQLite) a chunk is one executemany of a plain INSERT (compile_insert).
    """

    def __init__(self, kind: Kind, constants):
        self.kind = kind
        self.use_copy = connection.vendor == "postgresql"
        self.columns = kind.columns
        self.constants = constants  # the same for every record of the import (organization, batch, currency)
        self._cursor = self._copy_cm = self._copy = None
        self.pending = []
        if self.use_copy:
            quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
            self.statement = f"COPY {connection.ops.quote_name(kind.model._meta.db_table)} ({quoted}) FROM STDIN"
            nullable = {f.attname for f in kind.model._meta.concrete_fields if f.null}
            self.copy_line = compile_copy_line(self.columns, nullable, kind.time_columns, constants)
        else:
            self.statement, self.parameters = compile_insert(kind.model, self.columns, constants)

    def write(self, records, lines=None):
        """Take the records of a chunk: sent to the COPY (as `lines`, if the caller formatted them
        with `copy_line` already), or inserted, at once."""
        if self.use_copy and lines is not None:
            self.pending.extend(lines)
            self.send(formatted=True)
            return
        self.pending.extend(records)
        if self.use_copy:
            self.send()
        else:
            self.flush()

    def send(self, formatted=False):
        """Hand the pending records (or lines) to the open COPY, opening one if needed."""
        if not self.pending:
            return
        if self._copy is None:
            self._cursor = connection.cursor()
            self._copy_cm = self._cursor.cursor.copy(self.statement)
            self._copy = self._copy_cm.__enter__()
        rows, self.pending = self.pending, []
        if not formatted:
            copy_line = self.copy_line
            rows = [copy_line(r) for r in rows]
        self._copy.write("\n".join(rows) + "\n")

    def flush(self, exc=None):
        """Send what is pending and end the open COPY (waiting for the server to store its rows), or
        insert the pending records; after an error, drop them and abort the COPY."""
        if not self.use_copy:
            if self.pending and exc is None:
                rows, self.pending = self.pending, []
                with connection.cursor() as cursor:
                    cursor.executemany(self.statement, [self.parameters(r) for r in rows])
            return
        if exc is None:
            self.send()
        else:
            self.pending = []
        if self._copy is not None:
            copy_cm, cursor = self._copy_cm, self._cursor
            self._cursor = self._copy_cm = self._copy = None
            try:
                if exc is None:
                    copy_cm.__exit__(None, None, None)
                else:
                    copy_cm.__exit__(type(exc), exc, exc.__traceback__)
            finally:
                cursor.close()

    @contextmanager
    def session(self):
        """For the import's duration: other queries end the COPY first; errors abort it."""

        def end_copy_first(execute, sql, params, many, context):
            if self._copy is not None:
                self.flush()
            return execute(sql, params, many, context)

        # Driver errors (a COPY refused by a constraint) become Django's, like those of any query.
        with connection.wrap_database_errors, connection.execute_wrapper(end_copy_first):
            try:
                yield self
            except BaseException as exc:
                self.flush(exc)
                raise
            self.flush()
