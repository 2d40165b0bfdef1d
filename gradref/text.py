"""Text that came from a submission: made safe for terminals, reports and spreadsheets, and its
source cut out as Python numbers its lines; and lists of things said in words."""

import re
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


def listed(words):
    """'a', 'a and b', 'a, b and c'."""
    words = [str(w) for w in words]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def source_lines(text):
    """The text's lines as Python numbers them (only \\r\\n, \\r and \\n end one), each with its end."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def source_segment(lines, node):
    """ast.get_source_segment of `node` from `lines` (source_lines: split once per text, where
    ast.get_source_segment splits the whole text again on every call). Offsets are in UTF-8 bytes."""
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset : node.end_col_offset].decode()
    head = lines[first].encode()[node.col_offset :].decode()
    return head + "".join(lines[first + 1 : last]) + lines[last].encode()[: node.end_col_offset].decode()
