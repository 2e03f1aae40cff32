"""The watched inbox: what the bank's file transfer drops is imported once and moved
out of the way, a bad file set aside with the reason beside it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from libs.events import PaymentReceived
from libs.runtime.eventstore import open_in_memory
from services.payments.application import PaymentsApplication
from services.payments.inbox import StatementInbox
from services.payments.statements.csv_import import OCA_BALANCE

from .published import published
from .statement_samples import sample

TXDTLS = "camt053/oca_test-camt053-txdtls.xml"


@pytest.fixture
def payments() -> PaymentsApplication:
    return open_in_memory(PaymentsApplication)


@pytest.fixture
def inbox(payments: PaymentsApplication, tmp_path: Path) -> StatementInbox:
    return StatementInbox(payments, tmp_path / "inbox", "acme", csv_mapping=OCA_BALANCE,
                          poll_seconds=0.05, settle_seconds=0)


def drop(inbox: StatementInbox, name: str, data: bytes) -> Path:
    inbox.folder.mkdir(parents=True, exist_ok=True)
    path = inbox.folder / name
    path.write_bytes(data)
    return path


def received(app: PaymentsApplication) -> list[PaymentReceived]:
    return published(app, PaymentReceived)


def test_an_imported_statement_moves_to_processed(inbox: StatementInbox,
                                                  payments: PaymentsApplication) -> None:
    drop(inbox, "camt053-0323.xml", sample(TXDTLS))

    [outcome] = inbox.sweep()

    assert outcome.moved_to == inbox.folder / "processed" / "camt053-0323.xml"
    assert outcome.summary is not None and outcome.summary.new == 2
    assert not (inbox.folder / "camt053-0323.xml").exists()
    assert len(received(payments)) == 2


def test_a_rejected_statement_moves_to_rejected_with_the_reason_beside_it(
    inbox: StatementInbox, payments: PaymentsApplication,
) -> None:
    statement = sample("mt940/jejik_triodos.sta")
    drop(inbox, "cut.sta", statement[: statement.index(b":62F:")])

    [outcome] = inbox.sweep()

    assert outcome.moved_to == inbox.folder / "rejected" / "cut.sta"
    error = (inbox.folder / "rejected" / "cut.sta.error.txt").read_text()
    assert error == ("cut.sta:line 1 (:20:): statement '1308728725026/1' has no closing "
                     "balance :62F: or :62M: (is the file truncated?)\n")
    assert received(payments) == []


def test_a_statement_delivered_again_under_the_same_name_adds_nothing(
    inbox: StatementInbox, payments: PaymentsApplication,
) -> None:
    drop(inbox, "statement.xml", sample(TXDTLS))
    inbox.sweep()
    drop(inbox, "statement.xml", sample(TXDTLS))

    [outcome] = inbox.sweep()

    assert outcome.summary is not None and outcome.summary.duplicates == 2
    assert outcome.moved_to == inbox.folder / "processed" / "statement.2.xml"
    assert len(received(payments)) == 2


def test_csv_files_are_read_with_the_configured_mapping(inbox: StatementInbox) -> None:
    drop(inbox, "export.csv", sample("csv/oca_balance.csv"))

    [outcome] = inbox.sweep()

    assert outcome.summary is not None and outcome.summary.new == 1


def test_a_file_still_arriving_is_left_alone(payments: PaymentsApplication, tmp_path: Path) -> None:
    inbox = StatementInbox(payments, tmp_path / "inbox", "acme", settle_seconds=60)
    drop(inbox, "statement.xml.part", sample(TXDTLS))
    just_written = drop(inbox, "statement.xml", sample(TXDTLS))

    assert inbox.sweep() == []
    old = time.time() - 120
    os.utime(just_written, (old, old))
    assert [outcome.file for outcome in inbox.sweep()] == ["statement.xml"]
    assert (inbox.folder / "statement.xml.part").exists()


def test_a_file_the_import_could_not_finish_stays_for_the_next_sweep(
    inbox: StatementInbox, payments: PaymentsApplication, monkeypatch: pytest.MonkeyPatch,
) -> None:
    drop(inbox, "statement.xml", sample(TXDTLS))
    monkeypatch.setattr(payments, "import_statement", _database_away)

    with pytest.raises(ConnectionError):
        inbox.sweep()

    assert (inbox.folder / "statement.xml").exists()


def _database_away(*_: object) -> None:
    raise ConnectionError("the database does not answer")


async def test_the_watcher_imports_what_arrives_until_it_is_stopped(
    inbox: StatementInbox, payments: PaymentsApplication,
) -> None:
    stopping = asyncio.Event()
    watcher = asyncio.create_task(inbox.run(stopping))
    drop(inbox, "statement.xml", sample(TXDTLS))

    for _ in range(100):
        if (inbox.folder / "processed" / "statement.xml").exists():
            break
        await asyncio.sleep(0.05)
    stopping.set()
    await asyncio.wait_for(watcher, timeout=5)

    assert len(received(payments)) == 2
