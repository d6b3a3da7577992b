"""An export's file, built from the report's rows in either format."""

from datetime import date

from ...choices import ExportFormat, RecordKind
from ...selectors import export_queryset
from .allocation_xlsx import write_allocation_xlsx
from .csv_zip import write_csv_zip, zip_names
from .xlsx import write_xlsx


def export_filename(export_format, kind, public_id, start, end):
    if export_format == ExportFormat.CSV_ZIP:
        return zip_names(kind, public_id)[0]
    if export_format == ExportFormat.ALLOCATION:
        return f"Where the credits go {start} to {end}.xlsx"
    label = "PSTN usage" if kind == RecordKind.PSTN else "SMS usage"
    return f"{label} {start} to {end}.xlsx"


def build_file(organization, export_format, parameters, path, *, public_id, progress=None):
    if export_format == ExportFormat.ALLOCATION:
        start, end = date.fromisoformat(parameters["start"]), date.fromisoformat(parameters["end"])
        return write_allocation_xlsx(organization, start, end, parameters.get("filters", {}), path)
    rows = export_queryset(organization, parameters)
    kind = parameters["kind"]
    if export_format == ExportFormat.CSV_ZIP:
        return write_csv_zip(rows, path, kind, parameters, public_id=public_id, progress=progress)
    return write_xlsx(rows, path, kind, progress=progress)
