"""Reading and checking the rows of a source, apart from writing them.

`CheckedRows` reads a source and yields its records a chunk at a time, every value cleaned and
checked; a bad row and it raises ImportRejected (listing the first MAX_ERRORS problems) before
its last chunk, so that the import's transaction is rolled back.

Where the chunks go depends on the database's locks. On PostgreSQL an import locks only rows of its
own organization, so the chunks go straight to the writer, inside the import's transaction, while
the next rows are read. SQLite has one write lock for the whole database: an import that held it
while it read and checked a large file made every other organization's writes (a sign-in, a task)
wait, then fail with "database is locked". There the rows are read and checked first, with no
transaction open, into a `Spool`; only rating and writing, which need the organization's pools and
balance to stay as they are, take the lock.
"""

import pickle
import tempfile

from django.db import connection

from ..cleaning import RowError
from ..sources import Layout

CHUNK_SIZE = 1000
MAX_ERRORS = 50


class ImportRejected(Exception):
    """The input was refused as a whole; nothing was written. It lists the first MAX_ERRORS problems;
    `truncated` says there were more (a row can add several at once, so the list is cut here)."""

    def __init__(self, errors, *, truncated=False):
        self.errors = errors[:MAX_ERRORS]
        self.truncated = truncated or len(errors) > MAX_ERRORS
        first = str(errors[0]).rstrip(".") if errors else "the input was refused"
        others = len(self.errors) - 1
        more = f" (and {'more than ' if self.truncated else ''}{others} more problem(s))" if others > 0 else ""
        super().__init__(f"Nothing was imported: {first}{more}.")


def rows_of(chunks):
    """How many rows `chunks` full chunks hold (CHUNK_SIZE read when asked: tests make it smaller)."""
    return chunks * CHUNK_SIZE


def checks_before_writing():
    """Whether rows are read and checked before the import's transaction (see the module's note)."""
    return connection.vendor == "sqlite"


class CheckedRows:
    """The records of `source`, cleaned and checked, in chunks of CHUNK_SIZE; `read` counts its rows."""

    def __init__(self, kind, source):
        self.kind = kind
        self.source = source
        self.read = 0

    def __iter__(self):
        kind = self.kind
        errors = []
        layout = self.source.layout
        clean = kind.cleaner(layout)
        names = layout.names
        finish = kind.finish
        chunk = []
        append = chunk.append
        read = 0
        for label, payload in self.source.rows:
            if type(payload) is list:
                read += 1
                record = clean(payload, label, names, errors)
                if record is not None and finish(record, label, names, errors) and not errors:
                    append(record)
                    if len(chunk) >= CHUNK_SIZE:
                        yield chunk
                        chunk = []
                        append = chunk.append
                elif len(errors) > MAX_ERRORS:
                    raise ImportRejected(errors)
            elif isinstance(payload, Layout):
                layout = payload
                clean = kind.cleaner(layout)
                names = layout.names
            else:
                read += 1
                errors.append(RowError(payload.row or label, payload.column, payload.problem))
                if len(errors) > MAX_ERRORS:
                    raise ImportRejected(errors)
        self.read = read
        if errors:
            raise ImportRejected(errors)
        if read == 0:
            raise ImportRejected([RowError("", "", "There are no rows to import.")])
        if chunk:
            yield chunk


class Spool:
    """Checked chunks kept in a temporary file, so that memory stays flat, and read again as often
    as the import needs (a second, careful pass reads them again). Pickle is safe here: the file is
    this process's own, unnamed, and holds only what it wrote."""

    def __init__(self, chunks):
        self.file = tempfile.TemporaryFile()
        for chunk in chunks:
            pickle.dump(chunk, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.read = chunks.read

    def __iter__(self):
        self.file.seek(0)
        while True:
            try:
                chunk = pickle.load(self.file)
            except EOFError:
                return
            yield chunk

    def close(self):
        self.file.close()
