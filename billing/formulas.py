"""Text that a spreadsheet program would run as a formula, and how a CSV export keeps it text.

Excel, LibreOffice and Google Sheets read a CSV cell that starts with `=`, `+`, `-` or `@` (and, in
some versions, a tab or a carriage return before one) as a formula: `=HYPERLINK(...)` in a display
name becomes a link, `=cmd|...` a command. A CSV export therefore writes such text with a single
quote in front (`'=HYPERLINK(...)`), as OWASP advises: every spreadsheet shows it as text, and any
other reader sees the value with one quote more. Only text columns go through here; amounts and
counts ("-3.50") stay numbers. A number in E.164 form ("+14255550100") stays as it is: a spreadsheet
reads it as a number, never as a formula, and the original format spells phone numbers that way.

The rule is one-to-one, so that an importer can take the quote back off (`restore_neutralized`):
text that starts with quotes followed by a formula character gets one quote more, so that
`'=x` (written by someone, not by us) is exported as `''=x` and read back as `'=x`.

Usage's export formatted by PostgreSQL (its COPY path) writes the same rule in SQL, and a test
compares its bytes with Python's.
"""

import re

# Quotes (already there), then a character that starts a formula: = + - @ tab, carriage return.
FORMULA_START = "'*[=+@\t\r-]"
# A phone number in E.164 form: a plus, then 2 to 15 digits, the first not 0.
E164_NUMBER = r"\+[1-9][0-9]{1,14}"

# The first character of any text FORMULA_START matches: a cheap test before the pattern's.
FIRST_CHARACTERS = "'=+@\t\r-"

_starts_formula = re.compile(FORMULA_START).match
_is_e164 = re.compile(E164_NUMBER).fullmatch
_FIRST_CHARACTERS = frozenset(FIRST_CHARACTERS)


def neutralize_formula(text):
    """`text` as a CSV cell that no spreadsheet runs: one quote in front where it could start a formula."""
    if text[:1] in _FIRST_CHARACTERS and _starts_formula(text) and not _is_e164(text):
        return "'" + text
    return text


def restore_neutralized(text):
    """The text a neutralized cell stands for: `neutralize_formula` undone (other text is returned as is)."""
    if text[:1] == "'" and _starts_formula(text, 1):
        return text[1:]
    return text
