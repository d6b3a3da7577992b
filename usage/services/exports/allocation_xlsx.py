"""The workbook of "Where the credits go": a sheet per grouping (department, cost center, person,
destination country, call type) of the same range and filters, each ending with its total, which is
the ledger's usage charges of the range to the cent. Written like the usage export (xlsxwriter in
constant_memory mode, typed cells, nothing turned into a formula or a link)."""

from ...selectors.allocation import GROUPS, allocation
from .xlsx import open_workbook

SHEETS = {
    "department": "By department",
    "cost_center": "By cost center",
    "person": "By person",
    "country": "By country",
    "call_type": "By call type",
}


def write_allocation_xlsx(organization, start, end, filters, target):
    """Write the workbook to `target` (a path or a file); returns the number of data rows written."""
    workbook = open_workbook(target)
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    money_bold = workbook.add_format({"num_format": "#,##0.00", "bold": True})
    percent = workbook.add_format({"num_format": "0.0%"})
    count = 0
    for group, title in SHEETS.items():
        report = allocation(organization, start, end, group, filters)
        sheet = workbook.add_worksheet(title)
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, 1, 44)
        sheet.set_column(2, 5, 16)
        sheet.write_row(0, 0, [f"Where the credits go: {start.isoformat()} to {end.isoformat()} (UTC), {organization.name}"], bold)
        filters_text = "; ".join(f"{name}: {text}" for _, name, text in report.filter_labels) or "none"
        sheet.write_row(1, 0, [f"Filters: {filters_text}"])
        sheet.write_row(3, 0, [GROUPS[group], "Detail", "Calls and messages", "Minutes or segments",
                               f"Charged ({report.currency})", "Share"], bold)
        line = 4
        for row in report.rows:
            sheet.write_string(line, 0, row.label)
            sheet.write_string(line, 1, row.detail)
            sheet.write_number(line, 2, row.records)
            sheet.write_number(line, 3, row.minutes)
            sheet.write_number(line, 4, float(row.charge), money)
            sheet.write_number(line, 5, row.share / 100, percent)
            line += 1
            count += 1
        sheet.write_string(line, 0, "Total", bold)
        sheet.write_number(line, 2, report.records, bold)
        # The total as the ledger has it (a Decimal sum), not a formula over rounded floats.
        sheet.write_number(line, 4, float(report.charge), money_bold)
    workbook.close()
    return count
