"""What every source gives the import: rows laid out as a Layout says, and SourceError for an input
that cannot be read (or is refused) as a whole."""

from dataclasses import dataclass, field


class SourceError(Exception):
    """The input as a whole cannot be read (not the problem of one row)."""

    def __init__(self, problem, *, row="", column=""):
        super().__init__(problem)
        self.problem = problem
        self.row = row
        self.column = column


@dataclass
class Layout:
    """Which field each position of the following rows holds, and the input's name for each field."""

    mapping: list  # [(position, field)]
    names: dict  # field -> column name as the input spells it
    ignored: list = field(default_factory=list)


@dataclass
class RowSource:
    """`rows` yields (label, payload): payload is a list of values laid out as the last Layout says,
    a Layout (a new header, e.g. the next file of a zip), or a SourceError for a row that cannot be read."""

    kind: str
    rows: object
    layout: Layout
    description: str = ""

    @property
    def column_names(self):
        return self.layout.names

    @property
    def ignored_columns(self):
        return self.layout.ignored
