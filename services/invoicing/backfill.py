"""Onboard a company's ledger: `python -m services.invoicing.backfill FILE [--tenant T]`.

The file (CSV or JSON, see ledger_file.py) is checked whole first; one bad line and
nothing is loaded. Then the ledger goes through the same events as live business,
with the platform running:

1. customers as the ERP's `CustomerUpserted`;
2. historical invoices as `ErpInvoiceIssued`, recorded as the company issued them
   (number, dates, terms), once invoicing knows every customer (so none waits);
3. payments and settlements as `PaymentReceived` on ar.payments, naming their invoice
   in the remittance text so matching applies them at their real value date, once
   matching has opened every invoice (a payment naming an invoice matching has not
   seen would stay unapplied).

The payment events are published here, as the payments service would publish them,
rather than recorded through the payments service: a ledger's history is not cash
arriving today, and the payments service is not asked to re-import it. Their
payment_id is the one the payments service derives from a bank reference
(tenant + reference), so the same payment reported again, either way, is one payment.

Every event has an id derived from the tenant and the record's business key, and every
consumer recognises what it has seen: running the same file again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.events import (
    CustomerUpserted,
    ErpInvoiceIssued,
    IntegrationEvent,
    Money,
    OrderLine,
    PaymentReceived,
    encode,
)
from libs.events.topics import AR_INVOICING, AR_PAYMENTS, ERP_CUSTOMERS, physical_topic
from libs.runtime.clock import Clock, SystemClock
from libs.runtime.ids import stable_id
from libs.runtime.kafka import records_behind
from libs.runtime.publisher import EventPublisher
from libs.runtime.settings import ServiceSettings

from .ledger_file import (
    Ledger,
    LedgerCustomer,
    LedgerFileRejected,
    LedgerInvoice,
    LedgerPayment,
    read_ledger,
)

SOURCE = "ledger-backfill"
BATCH = 2_000
_EVENT_IDS = uuid.UUID("b1f0c4a2-58a8-4c84-9e0b-3f3f0d7c2a61")

Report = Callable[[str], None]


def customer_event(customer: LedgerCustomer) -> CustomerUpserted:
    return CustomerUpserted(customer_id=customer.customer_id, name=customer.name,
                            currency=customer.currency, payment_terms=customer.payment_terms,
                            language=customer.language)


def invoice_event(invoice: LedgerInvoice) -> ErpInvoiceIssued:
    """One line for the whole amount: the ledger keeps totals, not what was sold."""
    total = Money.of(invoice.amount, invoice.currency)
    return ErpInvoiceIssued(
        invoice_number=invoice.document_number, customer_id=invoice.customer_id,
        order_id=invoice.order_id, issue_date=invoice.issue_date, due_date=invoice.due_date,
        payment_terms=invoice.payment_terms, currency=invoice.currency,
        lines=(OrderLine(line_no=1, sku="LEDGER", description="historical invoice (backfill)",
                         quantity=1, unit_price=invoice.amount),),
        net_amount=total, tax_amount=Money.zero(invoice.currency), total=total)


def payment_event(tenant: str, payment: LedgerPayment) -> PaymentReceived:
    return PaymentReceived(
        payment_id=str(stable_id(tenant, "payment", payment.reference)),
        customer_id=payment.customer_id, amount=Money.of(payment.amount, payment.currency),
        value_date=payment.paid_on, booking_date=payment.paid_on,
        remittance_text=f"invoice {payment.document_number}", bank_reference=payment.reference)


def event_id(tenant: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(_EVENT_IDS, f"{tenant}/{kind}/{key}"))


class Backfill:
    def __init__(self, settings: ServiceSettings, tenant: str, report: Report,
                 timeout: float = 900.0) -> None:
        self.kafka = settings.kafka_bootstrap_servers
        self.tenant = tenant
        self.report = report
        self.timeout = timeout
        suffix = settings.kafka_group_suffix
        self.invoicing_group = f"invoicing{suffix}"
        self.matching_group = f"matching{suffix}"

    async def load(self, ledger: Ledger) -> None:
        started = time.monotonic()
        async with EventPublisher(self.kafka, source=SOURCE) as publisher:
            await self._publish(publisher, "customers", (
                (customer_event(c), event_id(self.tenant, "customer", c.customer_id))
                for c in ledger.customers), len(ledger.customers))
            await self._caught_up(self.invoicing_group, ERP_CUSTOMERS, "invoicing")
            await self._publish(publisher, "invoices", (
                (invoice_event(i), event_id(self.tenant, "invoice", i.document_number))
                for i in ledger.invoices), len(ledger.invoices))
            await self._issued({invoice.document_number for invoice in ledger.invoices})
            await self._caught_up(self.matching_group, AR_INVOICING, "matching")
            await self._publish(publisher, "payments", (
                (payment_event(self.tenant, p), event_id(self.tenant, "payment", p.reference))
                for p in ledger.payments), len(ledger.payments))
            await self._caught_up(self.matching_group, AR_PAYMENTS, "matching")
        self.report(f"done in {time.monotonic() - started:.1f} s: {ledger.describe()} "
                    f"loaded for tenant {self.tenant}")

    async def _publish(self, publisher: EventPublisher, what: str,
                       events: Iterable[tuple[IntegrationEvent, str]], count: int) -> None:
        pending, sent = [], 0
        for event, ce_id in events:
            record = encode(event, event_id=ce_id, tenant=self.tenant, source=SOURCE,
                            time=datetime.now(UTC))
            pending.append(await publisher.producer.send(record.topic, record.value,
                                                         key=record.key,
                                                         headers=record.headers))
            if len(pending) == BATCH:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
                self.report(f"{what}: {sent}/{count} published")
        await asyncio.gather(*pending)
        self.report(f"{what}: {count}/{count} published")

    async def _caught_up(self, group: str, topic: str, service: str) -> None:
        """Wait until the service's consumer group has processed everything now on the topic."""
        deadline, last_report = time.monotonic() + self.timeout, 0.0
        while behind := await records_behind(self.kafka, group, topic):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} (group {group}) is still {behind} records "
                                   f"behind on {topic}; is it running?")
            if time.monotonic() - last_report > 5:
                self.report(f"waiting for {service}: {behind} records to go on {topic}")
                last_report = time.monotonic()
            await asyncio.sleep(0.5)
        self.report(f"{service} has processed everything on {topic}")

    async def _issued(self, numbers: set[str]) -> None:
        """Wait until invoicing has published an InvoiceIssued for every invoice number."""
        missing = set(numbers)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False,
                                    auto_offset_reset="earliest",
                                    isolation_level="read_committed")
        await consumer.start()
        try:
            partitions = await _partitions(consumer, AR_INVOICING)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            deadline, last_report = time.monotonic() + self.timeout, 0.0
            while missing:
                batches = await consumer.getmany(timeout_ms=500, max_records=5_000)
                for records in batches.values():
                    for record in records:
                        headers = dict(record.headers or ())
                        if headers.get("ce_type") == b"InvoiceIssued" and \
                                headers.get("tenant") == self.tenant.encode():
                            missing.discard(json.loads(record.value)["invoice_number"])
                if time.monotonic() > deadline:
                    raise TimeoutError(f"invoicing has not issued {len(missing)} of the "
                                       f"invoices (e.g. {sorted(missing)[:3]}); see its "
                                       "dead-letter topic erp.orders.dlq")
                if time.monotonic() - last_report > 5:
                    self.report(f"invoicing has issued {len(numbers) - len(missing)}/"
                                f"{len(numbers)} invoices")
                    last_report = time.monotonic()
            self.report(f"invoicing has issued {len(numbers)}/{len(numbers)} invoices")
        finally:
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    name = physical_topic(topic)
    if not consumer.partitions_for_topic(name):
        await consumer._client.force_metadata_update()  # noqa: SLF001 - no subscription yet
    partitions = sorted(consumer.partitions_for_topic(name) or ())
    if not partitions:
        raise TimeoutError(f"topic {name} does not exist; create the topics first")
    return [TopicPartition(name, partition) for partition in partitions]


def main(argv: list[str] | None = None, clock: Clock | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.invoicing.backfill",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="the ledger, .csv or .json")
    parser.add_argument("--tenant", help="the legal entity whose ledger it is "
                                         "(default: DEFAULT_TENANT)")
    parser.add_argument("--check-only", action="store_true",
                        help="check the file and load nothing")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for each service to catch up")
    args = parser.parse_args(argv)
    settings = ServiceSettings(service_name="invoicing-backfill")
    tenant = args.tenant or settings.default_tenant
    today = (clock or SystemClock()).today()

    started = time.monotonic()

    def report(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    try:
        ledger = read_ledger(Path(args.file), today)
    except LedgerFileRejected as rejected:
        print(str(rejected), file=sys.stderr)
        return 2
    report(f"{args.file}: checked, {ledger.describe()}")
    if args.check_only:
        return 0
    try:
        asyncio.run(Backfill(settings, tenant, report, args.timeout).load(ledger))
    except TimeoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
