"""The original export as a zip: Calls.Export.{id}.zip of PSTN.calls.{UTC date}.csv and parameters.json.

A zip is hostile until checked: 306 KB can inflate to 300 MB (a member of zeros). Its own directory
is checked before anything is inflated: how many files, the size of each and of all of them
inflated, and how many times they inflate. Then the same limits hold while the files are read,
counted by `LimitedMember`, since a directory can lie. (Python's zipfile stops a member at the size
its directory gives and then fails its CRC, which `LimitedMember` reports as a damaged file; the
count is the second wall, and the one that holds the total and the ratio to the zip's real size.)
The limits are the USAGE_IMPORT_ZIP_* settings.
"""

import io
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from ...choices import RecordKind
from .csv_files import csv_reader, csv_rows, read_header
from .graph import parse_json
from .rows import RowSource, SourceError

ZIP_MEMBERS = {RecordKind.PSTN: ("PSTN.calls.", ".csv"), RecordKind.SMS: ("SMS.messages.", ".csv")}
PARAMETERS = "parameters.json"
# Below this, a file is not held to the ratio: a CSV of a header and a few rows may compress very
# well, and a megabyte costs nothing to read.
RATIO_FLOOR_BYTES = 1024 * 1024
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


@dataclass(frozen=True)
class ZipLimits:
    members: int
    member_bytes: int
    total_bytes: int
    ratio: int
    parameters_bytes: int

    @classmethod
    def from_settings(cls):
        return cls(
            members=settings.USAGE_IMPORT_ZIP_MAX_MEMBERS,
            member_bytes=settings.USAGE_IMPORT_ZIP_MAX_MEMBER_BYTES,
            total_bytes=settings.USAGE_IMPORT_ZIP_MAX_TOTAL_BYTES,
            ratio=settings.USAGE_IMPORT_ZIP_MAX_RATIO,
            parameters_bytes=settings.USAGE_IMPORT_ZIP_MAX_PARAMETERS_BYTES,
        )

    def member_limit(self, name):
        return self.parameters_bytes if base_name(name) == PARAMETERS else self.member_bytes

    def total_allowed(self, archive_bytes):
        """Bytes that all the files of a zip of `archive_bytes` may inflate to."""
        return min(self.total_bytes, max(RATIO_FLOOR_BYTES, self.ratio * archive_bytes))


def base_name(name):
    return name.rsplit("/", 1)[-1]


def size_text(count):
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,} bytes"


def check_directory(infos, archive_bytes, limits: ZipLimits):
    """Refuse the zip from its own directory, before anything is inflated."""
    if len(infos) > limits.members:
        raise SourceError(f"The zip holds {len(infos):,} files; a usage export holds one a day, and up to {limits.members:,} are read.")
    total = 0
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise SourceError("is encrypted; send the export as it was downloaded.", row=name)
        if info.compress_type not in _METHODS:
            raise SourceError("is compressed by another method than deflate, which usage exports use.", row=name)
        limit = limits.member_limit(name)
        if info.file_size > limit:
            raise SourceError(f"inflates to {size_text(info.file_size)}; a file of the zip may hold up to {size_text(limit)}.", row=name)
        if info.file_size > max(RATIO_FLOOR_BYTES, limits.ratio * info.compress_size):
            raise SourceError(
                f"inflates from {size_text(info.compress_size)} to {size_text(info.file_size)}, more than {limits.ratio} times: "
                "a usage export compresses far less, so the zip is refused unread.",
                row=name,
            )
        total += info.file_size
    if total > limits.total_allowed(archive_bytes):
        raise SourceError(
            f"The zip ({size_text(archive_bytes)}) inflates to {size_text(total)} in all; up to {size_text(limits.total_allowed(archive_bytes))} "
            f"is read from it ({size_text(limits.total_bytes)} at most, and no more than {limits.ratio} times the zip's size)."
        )


class InflateBudget:
    """What may still be inflated from one zip, whatever its directory says."""

    def __init__(self, limits: ZipLimits, archive_bytes):
        self.allowed = limits.total_allowed(archive_bytes)
        self.left = self.allowed


class LimitedMember(io.BufferedIOBase):
    """A file of the zip read within the size its directory gives (and the member limit) and within
    the zip's budget; a file that holds more, or that cannot be inflated, refuses the import."""

    def __init__(self, raw, info: zipfile.ZipInfo, limits: ZipLimits, budget: InflateBudget):
        super().__init__()
        self._raw = raw
        self.name = info.filename
        self.allowed = min(info.file_size, limits.member_limit(info.filename))
        self.left = self.allowed
        self.budget = budget

    def readable(self):
        return True

    def read(self, size=-1):
        return self._count(self._raw.read, size)

    def read1(self, size=-1):
        return self._count(self._raw.read1, size)

    def _count(self, read, size):
        try:
            data = read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise SourceError(f"is damaged and cannot be inflated ({exc}).", row=self.name) from None
        self.left -= len(data)
        self.budget.left -= len(data)
        if self.left < 0:
            raise SourceError(
                f"holds more than the {size_text(self.allowed)} the zip's directory gives for it: the zip is damaged or forged.",
                row=self.name,
            )
        if self.budget.left < 0:
            raise SourceError(f"The zip inflates to more than {size_text(self.budget.allowed)}; nothing more is read from it.", row=self.name)
        return data


@contextmanager
def open_member(archive, info, limits, budget):
    """A file of the zip as a LimitedMember; a local header that does not match the directory (or
    overlaps another file, a known zip bomb) refuses the import."""
    try:
        raw = archive.open(info)
    except (zipfile.BadZipFile, NotImplementedError) as exc:
        raise SourceError(f"cannot be read from the zip ({exc}).", row=info.filename) from None
    with raw:
        yield LimitedMember(raw, info, limits, budget)


def _check_parameters(archive, info, limits, budget):
    with open_member(archive, info, limits, budget) as member:
        data = member.read(limits.parameters_bytes + 1)
    try:
        parse_json(data)
    except SourceError:
        raise SourceError("is not valid JSON.", row=PARAMETERS) from None


def from_zip(binary, description="") -> RowSource:
    """The original export: every PSTN.calls.<date>.csv (or SMS.messages.<date>.csv) of the zip, in
    order of their names, each with its header; parameters.json must be JSON if it is there."""
    limits = ZipLimits.from_settings()
    archive_bytes = binary.seek(0, io.SEEK_END)
    binary.seek(0)
    try:
        archive = zipfile.ZipFile(binary)
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as exc:
        raise SourceError(f"The file is not a zip archive that can be read ({exc}).") from None
    check_directory(infos, archive_bytes, limits)
    by_name = {info.filename: info for info in infos}
    members = sorted(by_name)
    kind, csv_members = None, []
    for candidate, (start, end) in ZIP_MEMBERS.items():
        found = [m for m in members if base_name(m).startswith(start) and m.endswith(end)]
        if found:
            kind, csv_members = candidate, found
            break
    if kind is None:
        raise SourceError("The zip holds no PSTN.calls.<date>.csv (or SMS.messages.<date>.csv) file.")
    budget = InflateBudget(limits, archive_bytes)
    if PARAMETERS in by_name:
        _check_parameters(archive, by_name[PARAMETERS], limits, budget)

    def read_member(member):
        with open_member(archive, by_name[member], limits, budget) as handle:
            reader, lines = csv_reader(handle)
            prefix = base_name(member) + " "
            layout, width = read_header(reader, lines, kind, prefix=prefix)
            yield prefix + "line 1", layout
            yield from csv_rows(reader, lines, width, prefix=prefix)

    # The first file's header is read now, so that a missing column is reported before any row.
    first = read_member(csv_members[0])
    _, first_layout = next(first)

    def rows():
        yield from first
        for member in csv_members[1:]:
            yield from read_member(member)

    return RowSource(kind=kind, rows=rows(), layout=first_layout, description=description)
