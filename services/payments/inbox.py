"""A watched folder for bank statement files, as banks' file transfers deliver them.

Every file that lands in the inbox is imported once, then moved: to `processed/`
when imported, to `rejected/` with `<name>.error.txt` beside it saying where and what
is wrong. A file the import could not finish (the database away) stays where it is
and is tried again; a second import of a file already recorded only finds duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from libs.runtime.causation import Causation

from .application import PaymentsApplication
from .statement_import import ImportSummary
from .statements import CsvMapping, StatementRejected

log = logging.getLogger(__name__)

PROCESSED, REJECTED = "processed", "rejected"
# A file younger than this may still be being written by the transfer.
SETTLE_SECONDS = 1.0
# Names transfer programs give a file while it is still arriving.
IN_TRANSIT = (".part", ".tmp", ".filepart", ".partial")


@dataclass(frozen=True)
class InboxOutcome:
    file: str
    moved_to: Path
    summary: ImportSummary | None = None
    error: str | None = None


class StatementInbox:
    def __init__(self, payments: PaymentsApplication, folder: Path, tenant: str,
                 csv_mapping: CsvMapping | None = None, poll_seconds: float = 2.0,
                 settle_seconds: float = SETTLE_SECONDS) -> None:
        self.payments = payments
        self.folder = folder
        self.tenant = tenant
        self.csv_mapping = csv_mapping
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds

    async def run(self, stopping: asyncio.Event) -> None:
        log.info("watching %s for bank statements", self.folder)
        while not stopping.is_set():
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - the watcher must outlive a bad moment
                log.exception("statement inbox sweep failed; trying again")
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    def sweep(self) -> list[InboxOutcome]:
        """Import every file that has finished arriving."""
        self.folder.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for path in sorted(self.folder.iterdir()):
            if self._arrived(path):
                outcome = self._take(path)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    def _arrived(self, path: Path) -> bool:
        if not path.is_file() or path.name.startswith(".") or path.suffix in IN_TRANSIT:
            return False
        return time.time() - path.stat().st_mtime >= self.settle_seconds

    def _take(self, path: Path) -> InboxOutcome | None:
        # Only CSV needs a mapping; the other formats say what they are.
        mapping = self.csv_mapping if path.suffix.lower() == ".csv" else None
        causation = Causation(tenant=self.tenant, actor=f"inbox:{path.name}")
        try:
            summary = self.payments.import_statement(path.read_bytes(), None, mapping, causation)
        except StatementRejected as error:
            problem = f"{path.name}:{error.location}: {error.message}"
            log.warning("rejected statement %s", problem)
            moved = self._move(path, REJECTED)
            if moved is None:
                return None
            moved.with_name(moved.name + ".error.txt").write_text(problem + "\n")
            return InboxOutcome(path.name, moved, error=problem)
        log.info("imported statement %s: %d new, %d duplicates, %d returns, %d ignored",
                 path.name, summary.new, summary.duplicates, summary.returns, summary.ignored)
        moved = self._move(path, PROCESSED)
        return InboxOutcome(path.name, moved, summary=summary) if moved else None

    def _move(self, path: Path, outcome: str) -> Path | None:
        target_folder = self.folder / outcome
        target_folder.mkdir(exist_ok=True)
        target = target_folder / path.name
        copy = 1
        while target.exists():  # banks reuse names such as statement.sta every day
            copy += 1
            target = target_folder / f"{path.stem}.{copy}{path.suffix}"
        try:
            return path.rename(target)
        except FileNotFoundError:
            return None  # another replica watching the same folder took it first
