"""MySQL string literals for the upsert statements, written by hand because it is the
measured fast path: the connector's executemany spends more time rewriting and converting
than the server spends storing (run-benchmarks.py). For a session without
NO_BACKSLASH_ESCAPES (the engine sets sql_mode itself): backslash, quote, NUL and
Ctrl-Z are escaped; the rest, newlines and all UTF-8, may stand as it is."""

_SEPARATOR = "\x1f"


def escape(text):
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "'" in text:
        text = text.replace("'", "\\'")
    if "\x00" in text:
        text = text.replace("\x00", "\\0")
    if "\x1a" in text:
        text = text.replace("\x1a", "\\Z")
    return text


def literal(value):
    if value is None:
        return "NULL"
    return "'" + escape(str(value)) + "'"


def row_literal(row):
    """('v1','v2',...) for a row of strings; escaping the joined row at once is several
    times faster than value by value."""
    try:
        joined = _SEPARATOR.join(row)
    except TypeError:            # a None or a number among the values
        return "(" + ",".join(map(literal, row)) + ")"
    if joined.count(_SEPARATOR) != len(row) - 1:
        return "(" + ",".join(map(literal, row)) + ")"
    return "('" + escape(joined).replace(_SEPARATOR, "','") + "')"


_ROW_SEPARATOR = "\x1e"


def rows_literal(batch):
    """('v1','v2',...),(...) for a batch of rows of strings: the whole batch joined and
    escaped at once (a third faster than row by row); row by row when a value is not a
    string or holds a separator."""
    try:
        joined = _ROW_SEPARATOR.join([_SEPARATOR.join(row) for row in batch])
    except TypeError:            # a None or a number among the values
        return ",".join(map(row_literal, batch))
    if joined.count(_SEPARATOR) != sum(len(row) - 1 for row in batch) or \
            joined.count(_ROW_SEPARATOR) != len(batch) - 1:
        return ",".join(map(row_literal, batch))
    return "('" + escape(joined).replace(_SEPARATOR, "','").replace(_ROW_SEPARATOR, "'),('") + "')"
