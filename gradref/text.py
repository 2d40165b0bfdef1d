"""Text that came from a submission, made safe for terminals, reports and spreadsheets."""

import unicodedata

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(text, limit=2000):
    """`text` without control or format characters (ANSI escapes, bidi overrides), at most `limit` long."""
    out = []
    for char in str(text)[: limit * 2]:
        if char in "\n\t":
            out.append(" ")
        elif not unicodedata.category(char).startswith("C"):
            out.append(char)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def csv_cell(value):
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str):
        value = clean(value)
        if value.startswith(FORMULA_START):
            return "'" + value
    return value
