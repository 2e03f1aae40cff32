"""Bank statement parsers: camt.053/054, MT940, BAI2 and mapped CSV.

>>> statements = parse_statement(data)                 # format sniffed
>>> statements = parse_statement(data, "csv", csv_mapping=PRESETS["oca_balance"])
>>> parse_statement(data, require_reconciled=True)     # also check balances

Every parser raises :class:`StatementRejected` (and nothing else) for a file
it cannot accept, naming the place in the file and the problem.  A file is
accepted or rejected whole.
"""

from __future__ import annotations

import re

from .bai2 import parse_bai2
from .camt import parse_camt
from .csv_import import PRESETS, CsvMapping, parse_csv
from .model import Statement, StatementLine, StatementRejected
from .mt940 import parse_mt940

__all__ = [
    "CsvMapping",
    "PRESETS",
    "Statement",
    "StatementLine",
    "StatementRejected",
    "detect_format",
    "parse_statement",
]

_FORMATS = {
    "camt": "camt",
    "camt.053": "camt.053",
    "camt053": "camt.053",
    "camt.054": "camt.054",
    "camt054": "camt.054",
    "mt940": "mt940",
    "bai2": "bai2",
    "csv": "csv",
}
_MT940_START = re.compile(rb"(?m)^[\x00-\x04 \t]*:20:")
_MT940_OPENING = re.compile(rb"(?m)^[\x00-\x04 \t]*:60[FM]:")


def detect_format(data: bytes) -> str | None:
    """Guess the format of a statement file: "camt", "mt940", "bai2" or None."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "camt"
    if head.startswith(b"01,"):
        return "bai2"
    if _MT940_START.search(data) and _MT940_OPENING.search(data):
        return "mt940"
    return None


def parse_statement(
    data: bytes,
    format: str | None = None,
    csv_mapping: CsvMapping | None = None,
    *,
    require_reconciled: bool = False,
) -> list[Statement]:
    """Parse a bank statement file into statements.

    ``format``: "camt" (either kind), "camt.053", "camt.054", "mt940", "bai2",
    "csv" or None to sniff it (a ``csv_mapping`` without ``format`` means CSV).
    With ``require_reconciled`` every statement must satisfy opening + credits
    - debits == closing (see :meth:`Statement.check_balances`).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes")
    data = bytes(data)
    if format is None:
        fmt = "csv" if csv_mapping is not None else detect_format(data)
        if fmt is None:
            raise StatementRejected(
                "unknown format", "start of file",
                "the file is not camt.053/054 XML, MT940 or BAI2; to import a CSV export pass csv_mapping",
                1,
            )
    else:
        fmt = _FORMATS.get(format.strip().lower())
        if fmt is None:
            raise ValueError(f"unknown format {format!r}; use one of {sorted(set(_FORMATS.values()))}")
    if not data.strip():
        raise StatementRejected(fmt, "start of file", "the file is empty", 1)

    if fmt.startswith("camt"):
        statements = parse_camt(data, expected=None if fmt == "camt" else fmt)
    elif fmt == "mt940":
        statements = parse_mt940(data)
    elif fmt == "bai2":
        statements = parse_bai2(data)
    else:
        if csv_mapping is None:
            raise ValueError("CSV needs a csv_mapping (see statements.csv_import.PRESETS)")
        statements = parse_csv(data, csv_mapping)

    if require_reconciled:
        for statement in statements:
            statement.check_balances()
    return statements
