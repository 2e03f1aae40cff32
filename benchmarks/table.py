"""How every benchmark reports: one table, each figure beside its baseline and target.

A figure is measured in the same run as its baseline (the same machine, the same
moment), so the ratio means something even on a busy 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> str:
        if not self.baseline:
            return "-"
        return f"{self.value / self.baseline:.2f}x"


def print_table(title: str, figures: list[Figure]) -> None:
    print(f"\n{title}")
    header = ("figure", "value", "baseline (same run)", "ratio", "target", "met")
    rows = [header] + [
        (f.name, f"{f.value:,.2f} {f.unit}",
         f"{f.baseline_name} {f.baseline:,.2f} {f.unit}" if f.baseline is not None else "-",
         f.ratio, f.target or "-", {True: "yes", False: "NO", None: "-"}[f.met])
        for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
