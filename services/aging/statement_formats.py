"""A statement as a customer reads it: HTML, PDF (fpdf2) and CSV, all from the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace
from jinja2 import Environment, FileSystemLoader, select_autoescape

from libs.events.money import MINOR_UNITS

from .buckets import UNAPPLIED
from .statements import CurrencySection, Statement

COLUMNS = ("date", "entry", "reference", "description", "due date", "amount", "balance")

_templates = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                         lstrip_blocks=True)


def money(amount: Decimal, currency: str) -> str:
    """For a reader: grouped thousands, the currency's minor units."""
    return f"{amount:,.{MINOR_UNITS.get(currency, 2)}f}"


def plain(amount: Decimal, currency: str) -> str:
    """For a spreadsheet: no grouping, the currency's minor units."""
    return f"{amount:.{MINOR_UNITS.get(currency, 2)}f}"


Format = Callable[[Decimal, str], str]


def section_rows(section: CurrencySection, statement: Statement,
                 fmt: Format = money) -> Iterator[tuple[str, ...]]:
    """Opening balance, one row per movement, closing balance: the body of every format."""
    currency, period = section.currency, statement.period
    yield (period.start.isoformat(), "Opening balance", "", "", "", "",
           fmt(section.opening_balance, currency))
    for line in section.lines:
        entry = line.entry
        yield (entry.on.isoformat(), entry.kind.label, entry.reference, entry.description,
               entry.due_date.isoformat() if entry.due_date else "",
               fmt(entry.amount, currency), fmt(line.balance, currency))
    yield (period.end.isoformat(), "Closing balance", "", "", "", "",
           fmt(section.closing_balance, currency))


def aging_columns(statement: Statement, section: CurrencySection,
                  fmt: Format = money) -> list[tuple[str, str]]:
    """The closing balance by age, and the unapplied cash and credits beside it."""
    aging = section.aging
    return ([(label, fmt(aging.buckets[label], section.currency)) for label in statement.labels]
            + [(UNAPPLIED, fmt(aging.unapplied, section.currency)),
               ("total", fmt(aging.total, section.currency))])


def as_html(statement: Statement) -> str:
    return _templates.get_template("statement.html.j2").render(
        statement=statement, columns=COLUMNS,
        sections=[(section, list(section_rows(section, statement)),
                   aging_columns(statement, section)) for section in statement.sections])


def as_csv(statement: Statement) -> str:
    """One table: a currency column, then the statement rows, then the aging of the
    closing balance as rows whose entry is 'aged <bucket>'."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("currency", *COLUMNS))
    for section in statement.sections:
        for row in section_rows(section, statement, plain):
            writer.writerow((section.currency, *row))
        for label, amount in aging_columns(statement, section, plain):
            writer.writerow((section.currency, statement.period.end.isoformat(),
                             f"aged {label}", "", "", "", amount, ""))
    return buffer.getvalue()


def _latin1(text: str) -> str:
    # The PDF's built-in fonts cover Latin-1; anything else is shown as '?', not refused.
    return text.encode("latin-1", "replace").decode("latin-1")


def as_pdf(statement: Statement) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Statement {statement.customer_id} {statement.period}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(text=_latin1(f"Statement of account: {statement.customer_id}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text=f"Period {statement.period.start.isoformat()} to "
                  f"{statement.period.end.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    if not statement.sections:
        pdf.cell(text="No movements and no balance up to the end of the period.")
    for section in statement.sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(text=f"In {section.currency}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=8)
        amounts_right = ("LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT")
        with pdf.table(col_widths=(22, 26, 40, 95, 22, 30, 30), text_align=amounts_right,
                       headings_style=FontFace(emphasis="BOLD")) as table:
            table.row(COLUMNS)
            for row in section_rows(section, statement):
                table.row(tuple(_latin1(cell) for cell in row))
        pdf.ln(2)
        columns = aging_columns(statement, section)
        with pdf.table(text_align="RIGHT", headings_style=FontFace(emphasis="BOLD")) as table:
            table.row(tuple(f"aged {label}" for label, _ in columns))
            table.row(tuple(amount for _, amount in columns))
    return bytes(pdf.output())
