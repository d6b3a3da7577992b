"""An export's file, built from the report's rows in either format."""

from ...choices import ExportFormat, RecordKind
from ...selectors import export_queryset
from .csv_zip import write_csv_zip, zip_names
from .xlsx import write_xlsx


def export_filename(export_format, kind, public_id, start, end):
    if export_format == ExportFormat.CSV_ZIP:
        return zip_names(kind, public_id)[0]
    label = "PSTN usage" if kind == RecordKind.PSTN else "SMS usage"
    return f"{label} {start} to {end}.xlsx"


def build_file(organization, export_format, parameters, path, *, public_id, progress=None):
    rows = export_queryset(organization, parameters)
    kind = parameters["kind"]
    if export_format == ExportFormat.CSV_ZIP:
        return write_csv_zip(rows, path, kind, parameters, public_id=public_id, progress=progress)
    return write_xlsx(rows, path, kind, progress=progress)
