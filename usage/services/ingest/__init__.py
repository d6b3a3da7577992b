"""Ingestion: one service behind the upload page, the management command and the JSON endpoint.

`ingest()` reads rows from a source (usage.services.sources), checks every value, rates each new
record (usage.services.rating), writes the records, the pools, the per-day totals and one usage
charge for the whole import, in one transaction:

- all or nothing: any bad row and nothing is written; the error names the row, the column and the
  problem (every bad row up to a limit, not only the first);
- idempotent: a record whose UsageId the organization already has is skipped, so importing a file
  twice adds no record and charges nothing the second time;
- streaming: rows are read, rated and written in chunks (PostgreSQL COPY, or one executemany a
  chunk elsewhere), so memory does not grow with the file;
- never in another organization's way: on SQLite, whose one write lock covers the whole database,
  the rows are read and checked before the transaction, and only rating and writing hold the lock.

The rooms: checking.py (reading and checking rows, apart from writing them, and where the checked
chunks wait on SQLite), kinds.py (what differs between calls and SMS), copy_writer.py (COPY lines and
the writer), duplicates.py (which UsageIds the organization has already), daily_totals.py (the per-day
totals the report reads) and pipeline.py (the service: chunks, rating, the charge, all or nothing).
"""

from .pipeline import ImportRejected, ImportResult, import_file, import_graph_payload, ingest

__all__ = ["ImportRejected", "ImportResult", "import_file", "import_graph_payload", "ingest"]
