"""Just enough of an .xlsx reader for tests: cells with their type and number format, by sheet."""

import re
import zipfile
from xml.etree import ElementTree

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _column(ref):
    letters = re.match(r"[A-Z]+", ref).group(0)
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


def read_workbook(path):
    """{sheet name: [[(kind, value, number_format) per cell] per row]}; kind is 'n' or 's', or 'f' for a
    formula (with the formula as its value), which no export of ours may ever hold."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels}
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
        custom = {f.get("numFmtId"): f.get("formatCode") for f in styles.findall(".//m:numFmts/m:numFmt", NS)}
        xfs = [xf.get("numFmtId") for xf in styles.findall("./m:cellXfs/m:xf", NS)]
        shared = []
        if "xl/sharedStrings.xml" in archive.namelist():
            sst = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in sst.findall("m:si", NS)]
        sheets = {}
        for sheet in workbook.findall(".//m:sheets/m:sheet", NS):
            xml = ElementTree.fromstring(archive.read("xl/" + targets[sheet.get(REL)].lstrip("/").removeprefix("xl/")))
            rows = []
            for row in xml.findall(".//m:sheetData/m:row", NS):
                cells = {}
                for c in row.findall("m:c", NS):
                    style = int(c.get("s", "0"))
                    fmt_id = xfs[style] if style < len(xfs) else "0"
                    fmt = custom.get(fmt_id, fmt_id)
                    kind = c.get("t", "n")
                    if c.find("m:f", NS) is not None:
                        cells[_column(c.get("r"))] = ("f", c.find("m:f", NS).text, fmt)
                    elif kind == "inlineStr":
                        value = "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
                        cells[_column(c.get("r"))] = ("s", value, fmt)
                    elif kind == "s":
                        cells[_column(c.get("r"))] = ("s", shared[int(c.find("m:v", NS).text)], fmt)
                    else:
                        cells[_column(c.get("r"))] = ("n", float(c.find("m:v", NS).text), fmt)
                width = max(cells) + 1 if cells else 0
                rows.append([cells.get(i, ("", None, "")) for i in range(width)])
            sheets[sheet.get("name")] = rows
        return sheets
