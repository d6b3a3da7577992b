"""A CSV download streamed as it is written: rows from the database a chunk at a time, never the
whole file in memory. Shared by billing's transactions CSV and usage's rate table CSV."""

import csv

from django.http import StreamingHttpResponse


class _Echo:
    """A file whose write returns what it was given: csv.writer's lines, handed to the response."""

    def write(self, value):
        return value


def csv_download(rows, filename) -> StreamingHttpResponse:
    """`rows` (an iterable of lists, the heading first) as an attached CSV file named `filename`."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
