"""Exports of the report: the rows and filters on screen, as .xlsx or in the original's format.

- .xlsx (xlsx.py): the export's column names; dates are Excel dates and money is numbers (typed
  cells, not text); written with xlsxwriter's constant_memory mode, a row at a time, from a
  server-side cursor, so memory stays flat. A sheet holds at most 1,048,576 rows (the header
  included): longer exports continue on further sheets, each with the header.
- The original format (csv_zip.py): Calls.Export.{id}.zip holding PSTN.calls.{UTC date}.csv files
  (RFC 4180, CRLF, first row the column names, one file per UTC day of the calls) and
  parameters.json (date range and filters). This site's importer reads it back.

Rows are the report's (usage.selectors.export_queryset), written in chronological order (start
time, then id), the order in which they were rated, so that importing an export elsewhere draws the
pools in the same order.

Small exports are built in the request; large ones by a Celery task with a status record, a
progress count, and a file kept for 7 days. The page asks through requesting.py, which records a
background export and enqueues its task through usage.tasks; the task runs jobs.py, which builds
the file (files.py) and announces it. Imports go one way (requesting -> usage.tasks -> jobs ->
files -> xlsx, csv_zip -> columns, progress): this package re-exports nothing, since importing it
would then import usage.tasks, which imports it.
"""
