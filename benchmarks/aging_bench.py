"""Aging benchmarks on PostgreSQL and Kafka, each figure beside a baseline from the same run.

    python -m benchmarks.aging_bench [--items 1000000] [--rate 1000] [--seconds 10]

1. Queries. Loads synthetic open items with COPY into a throw-away database (the COPY
   rate is the baseline for loading), then times the full aging report computed from
   open items (`queries.aging_report(..., from_items=True)`: the tenant's totals per
   currency and bucket, and one line per customer) against a plain `SELECT sum()` scan
   of the same rows. Then a customer's
   balance and aging (`queries.customer_balance`, what `GET /customers/{id}/balance`
   runs: the customer's kept buckets, services/aging/aggregates.py) under 100 concurrent
   clients: requests arrive on a fixed schedule (open loop)
   whatever the answers' speed, each on its own connection from a pool of 100, and a
   request's latency runs from its scheduled time, so a slow answer shows in the ones
   queued behind it. Every pooled connection is warmed first (statements prepared,
   plans settled), as in a service that has been up a while. A customer with 100,000
   open items against one with 10; the baseline is a plain `SELECT sum()` of the big
   customer's open items, same schedule. The CPU a request costs, here (asyncpg) and in
   PostgreSQL, says the same as the latencies where a busy machine blurs those.
2. Publish-to-visible lag. A fresh database and fresh topics (tests/support), the aging
   service as its own process with its default settings, events (new invoices, and
   payments applied to them) published at a fixed rate (as the platform's publisher
   does, but through librdkafka, which spends this process's share of the two cores in
   C threads: benchmarks/kafka_tail.py). An event is visible when the projection's
   transaction that applied it commits, which the projection announces on its pg_notify
   channel: this process LISTENs and takes the arrival time. The baseline, measured just
   before, is Kafka alone: the same records at the same rate, published to a topic no
   service reads and read back here (not during the run: a reader's fetches would load
   the broker the run measures). The projection's own figure (VISIBLE_LAG, from
   ce_time to commit) is read from /metrics too. Beside them, the work an event costs,
   which a busy machine does not blur: the aging process's CPU, its database server
   processes' CPU, the Kafka broker's, this process's own (it shares the two cores), how
   many events a commit holds (a busier machine makes bigger, cheaper commits), and the
   share of the machine's cores that all of it keeps busy at the rate.
   Then the projection's writer alone, in this process, at a fixed number of events a
   commit: its CPU per event here and in PostgreSQL, and its statements per commit.
3. Payment prediction error on the IBM sample (backtest), beside "paid on the due date".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
from aiokafka.structs import ConsumerRecord

from benchmarks.kafka_tail import LightPublisher, Sender, kafka_alone, percentile
from benchmarks.machine import CORES, cpu_seconds, kafka_broker_pid
from benchmarks.table import Figure, print_table
from libs.events import InvoiceIssued, KafkaRecord, Money, PaymentApplied, decode, encode
from libs.events.topics import AR_INVOICING, AR_MATCHING
from libs.runtime.projection import ProjectionWriter, changes_channel
from libs.sample_data import load_ibm_sample
from services.aging import aggregates, prediction, projections, queries
from services.aging.projections import SCHEMA
from services.aging.queries import AgingView, GroupBy
from tests.support.infrastructure import prepare, tear_down
from tests.support.processes import ServiceProcess, free_port

TENANT = "bench"
TODAY = date(2026, 11, 22)
BIG, SMALL = "BIG-CUSTOMER", "SMALL-CUSTOMER"
COLUMNS = ("tenant", "invoice_id", "invoice_number", "customer_id", "order_id", "currency",
           "issue_date", "due_date", "original_amount", "open_amount", "settled_on")


def synthetic_rows(count: int, customers: int, seed: int = 7, customer: str | None = None,
                   prefix: str = "inv"):  # noqa: ANN201
    generator = random.Random(seed)
    for index in range(count):
        issue = TODAY - timedelta(days=generator.randint(0, 200))
        amount = Decimal(generator.randint(1_000, 500_000)) / 100
        open_amount = amount if generator.random() < 0.8 else Decimal(0)
        yield (TENANT, f"{prefix}-{index}", f"{prefix.upper()}-{index:08d}",
               customer or f"C{index % customers:05d}", None, "EUR", issue,
               issue + timedelta(days=30), amount, open_amount,
               None if open_amount else issue + timedelta(days=20))


def open_rows(count: int, customer: str, seed: int):  # noqa: ANN201
    """`count` items all open, for one customer."""
    generator = random.Random(seed)
    for index in range(count):
        issue = TODAY - timedelta(days=generator.randint(0, 200))
        amount = Decimal(generator.randint(1_000, 500_000)) / 100
        yield (TENANT, f"{customer}-{index}", f"{customer}-{index:08d}", customer, None, "EUR",
               issue, issue + timedelta(days=30), amount, amount, None)


async def timed(runs: int, call) -> float:  # noqa: ANN001
    """Median seconds of `runs` calls (after one warm-up)."""
    await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@dataclass(frozen=True)
class RequestCost:
    """CPU milliseconds per request: this process's, and the database server's."""

    client: float
    server: float


async def server_cpu_seconds(pool: asyncpg.Pool) -> float:
    """CPU seconds used so far by the server processes of the pool's database."""
    backends = await pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return sum(cpu_seconds(row["pid"]) for row in backends)


async def warm_every_connection(pool: asyncpg.Pool, clients: int,
                                request: Callable[[asyncpg.Pool], Awaitable[object]]) -> None:
    """`request` on every pooled connection, six times: each has its statements prepared
    and their plans settled (PostgreSQL plans a prepared statement afresh for each of its
    first five runs), as they are in a service that has been up a while."""
    for _ in range(6):
        await asyncio.gather(*(request(pool) for _ in range(clients)))


async def open_loop(pool: asyncpg.Pool, rate: int, seconds: float,
                    request: Callable[[asyncpg.Pool], Awaitable[object]],
                    give_up_after: float = 30.0) -> tuple[list[float], int, RequestCost]:
    """Latencies in ms (from each request's scheduled time), how many never finished
    (those count in the latencies with the time they had waited when given up: a floor),
    and the CPU a request cost."""
    latencies: list[float] = []
    schedule: list[float] = []

    async def one(scheduled: float) -> None:
        await request(pool)
        latencies.append((time.perf_counter() - scheduled) * 1000)

    tasks = []
    server_before, client_before = await server_cpu_seconds(pool), time.process_time()
    started = time.perf_counter()
    for index in range(int(rate * seconds)):
        scheduled = started + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        schedule.append(scheduled)
        tasks.append(asyncio.create_task(one(scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=give_up_after)
    given_up = time.perf_counter()
    cost = RequestCost(client=(time.process_time() - client_before) * 1000 / len(tasks),
                       server=(await server_cpu_seconds(pool) - server_before) * 1000
                       / len(tasks))
    for task, scheduled in zip(tasks, schedule):
        if task in pending:
            task.cancel()
            latencies.append((given_up - scheduled) * 1000)
    return latencies, len(pending), cost


async def load_projection(connection: asyncpg.Connection, rows_by_batch: list) -> float:
    """The projection's tables, loaded with COPY before indexes, aggregates and triggers
    (as a rebuild does); returns the seconds the COPY took."""
    await connection.execute(f"CREATE SCHEMA {SCHEMA}")
    await connection.execute((projections.TABLES_DDL + aggregates.TABLES_DDL)
                             .format(schema=SCHEMA))
    started = time.perf_counter()
    for rows in rows_by_batch:
        await connection.copy_records_to_table("open_items", schema_name=SCHEMA, records=rows,
                                               columns=COLUMNS)
    copy_seconds = time.perf_counter() - started
    await connection.execute(projections.INDEXES_DDL.format(schema=SCHEMA))
    await connection.execute(aggregates.FILL.format(schema=SCHEMA))
    await connection.execute(aggregates.TRIGGERS_DDL.format(schema=SCHEMA))
    await connection.execute(f"ANALYZE {SCHEMA}.open_items")
    return copy_seconds


async def query_figures(server_url: str, items: int, customers: int, clients: int,
                        rate: int, seconds: float) -> None:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{database}"))
    figures: list[Figure] = []
    try:
        connection = await asyncpg.connect(url)
        copy_seconds = await load_projection(connection, [
            synthetic_rows(items, customers), open_rows(100_000, BIG, seed=11),
            open_rows(10, SMALL, seed=13)])
        loaded = items + 100_010
        figures.append(Figure("COPY of open items", loaded / copy_seconds, "rows/s"))

        view = AgingView(as_of=TODAY, today=TODAY)
        pool = await asyncpg.create_pool(url, min_size=clients, max_size=clients,
                                         reset=queries.keep_session)  # as the service's
        try:
            # The kept buckets were filled as of the database's date: age them as of TODAY.
            await queries.roll_buckets(pool, TENANT, TODAY)
            for table in ("customer_buckets", "open_by_due_date", "open_items"):
                await connection.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")
            scan_sql = f"SELECT sum(open_amount) FROM {SCHEMA}.open_items WHERE tenant = $1"
            scan = await timed(5, lambda: connection.fetchval(scan_sql, TENANT))
            report = await timed(5, lambda: queries.aging_report(
                pool, TENANT, view, GroupBy.TENANT, from_items=True))
            per_customer = await timed(3, lambda: queries.aging_report_json(
                pool, TENANT, view, from_items=True))
            figures += [
                Figure(f"full aging report from open items, {loaded:,} items (totals per "
                       "currency and bucket)", report * 1000, "ms", "plain sum() scan",
                       scan * 1000, "< 1000 ms and <= 2x scan",
                       report < 1.0 and report <= 2 * scan),
                Figure(f"the same, one line per customer ({customers:,} lines)",
                       per_customer * 1000, "ms", "plain sum() scan", scan * 1000),
            ]
            await connection.close()

            def balance_of(customer: str):  # noqa: ANN202
                return lambda pool: queries.customer_balance(pool, TENANT, customer, view)

            customer_sum = (f"SELECT sum(open_amount) FROM {SCHEMA}.open_items "
                            "WHERE tenant = $1 AND customer_id = $2 AND open_amount <> 0")
            for customer in (BIG, SMALL):
                await warm_every_connection(pool, clients, balance_of(customer))
            # The small customer first: a saturated run leaves cancelled queries behind.
            small, small_lost, small_cpu = await open_loop(pool, rate, seconds,
                                                           balance_of(SMALL))
            big, big_lost, big_cpu = await open_loop(pool, rate, seconds, balance_of(BIG))
            plain, plain_lost, _ = await open_loop(
                pool, rate, seconds, lambda pool: pool.fetchval(customer_sum, TENANT, BIG))
        finally:
            await pool.close()
        big_p99, small_p99 = percentile(big, 0.99), percentile(small, 0.99)
        figures += [
            Figure("balance+aging p50, 100,000 open items", percentile(big, 0.5), "ms",
                   "plain sum() p50", percentile(plain, 0.5)),
            Figure("balance+aging p99, 100,000 open items", big_p99, "ms",
                   "plain sum() p99", percentile(plain, 0.99), "< 5 ms", big_p99 < 5),
            Figure("balance+aging p99, 10 open items", small_p99, "ms"),
            Figure("p99 100,000 items / p99 10 items", big_p99 / small_p99, "x", "",
                   None, "<= 1.5x", big_p99 <= 1.5 * small_p99),
            # (the plain sum() of 100,000 items at this rate saturates the machine: its own
            # requests may go unanswered, a baseline's, not the service's)
            Figure("balance requests unanswered in 30 s", big_lost + small_lost, "",
                   "plain sum() requests unanswered", plain_lost, "0",
                   big_lost + small_lost == 0),
            Figure("PostgreSQL CPU per balance, 100,000 open items", big_cpu.server, "ms",
                   "10 open items", small_cpu.server),
            Figure("client CPU per balance (asyncpg), 100,000 open items", big_cpu.client,
                   "ms", "10 open items", small_cpu.client),
        ]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    print_table(f"aging query benchmarks ({loaded:,} open items, {customers:,} customers; "
                f"balance at {rate}/s open loop for {seconds:g} s each, {clients} clients)",
                figures)


# ---------------------------------------------------------------------------------------------
# Publish-to-visible lag


def lag_events(index: int, customers: int) -> list:
    """Invoice `index` for one of `customers`, and every other one paid in the same breath."""
    customer = f"LAG-{index % customers:04d}"
    total = Money.of("100.00", "EUR")
    issued = InvoiceIssued(invoice_id=f"lag-{index}", invoice_number=f"LAG-{index:08d}",
                           customer_id=customer, issue_date=TODAY, due_date=TODAY, net_amount=total,
                           tax_amount=Money.of("0", "EUR"), total=total)
    if index % 2:
        return [issued]
    return [issued, PaymentApplied(
        application_id=f"lag-app-{index}", payment_id=f"lag-pay-{index}",
        invoice_id=f"lag-{index}", invoice_number=f"LAG-{index:08d}", customer_id=customer,
        amount=total, applied_on=TODAY, rule="bench", explanation="bench")]


def histogram_p99(metrics: str) -> float | None:
    """The upper bound (ms) of the VISIBLE_LAG bucket that holds the 99th percentile."""
    buckets: dict[float, float] = {}
    for line in metrics.splitlines():
        if line.startswith("ar_projection_visible_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            key = float("inf") if bound == "+Inf" else float(bound)
            buckets[key] = buckets.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    if not buckets or not buckets[float("inf")]:
        return None
    total = buckets[float("inf")]
    return next(bound * 1000 for bound in sorted(buckets) if buckets[bound] >= 0.99 * total)


async def work_done(connection: asyncpg.Connection, aging_pid: int,
                    broker_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the aging process, of the Kafka broker and of each of the
    database's server processes (but this connection's): on a busy machine latencies say
    little, the work per event says what the projection costs."""
    backends = await connection.fetch(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return {"aging": cpu_seconds(aging_pid), "kafka": cpu_seconds(broker_pid or 0),
            **{f"backend {row['pid']}": cpu_seconds(row["pid"]) for row in backends}}


async def measure_lag(kafka: str, database_url: str, aging_url: str, rate: int,
                      seconds: int, customers: int, aging_pid: int) -> None:
    def records_for(index: int, tag: str) -> list[KafkaRecord]:
        return [encode(event, event_id=f"{tag}-{index}-{type(event).__name__}",
                       tenant=TENANT, source="bench-lag", time=datetime.now(UTC))
                for event in lag_events(index, customers)]

    # Made beforehand (ce_time is stamped as each is sent), so that this process, sharing
    # the machine's two cores, spends less of them meanwhile.
    planned = [records_for(index, "run") for index in range(rate * seconds)]
    kafka_lags = await kafka_alone(
        kafka, [records_for(index, "alone-warm-up") for index in range(rate)],
        [records_for(index, "alone") for index in range(rate * seconds)], rate, rate * seconds)
    sender = Sender(LightPublisher(kafka))
    listener = await asyncpg.connect(database_url)
    broker = kafka_broker_pid()
    sent_at = sender.sent_at
    visible: dict[str, float] = {}

    commits = 0  # of the projection's, with events of the run

    def on_notify(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        nonlocal commits
        now = time.perf_counter()
        changes = json.loads(payload)  # what one of the projection's commits applied
        for change in changes:
            visible.setdefault(change["event_id"], now)
        # (a commit of more than ~60 events announces them in several notices)
        commits += any(change["event_id"].startswith("run-") for change in changes)

    await listener.add_listener(changes_channel(SCHEMA), on_notify)
    try:
        # Warm up until the consumer group has settled: probes, five a second, each
        # visible within 100 ms for 4 s in a row.
        prompt, probe, deadline = 0, 0, time.monotonic() + 120
        while prompt < 20:
            if time.monotonic() > deadline:
                raise TimeoutError("the aging projection did not settle in 120 s")
            ids = sender.send(records_for(probe, "probe"), time.perf_counter())
            probe += 1
            await asyncio.sleep(0.2)
            prompt = prompt + 1 if all(i in visible for i in ids) and max(
                visible[i] - sent_at[i] for i in ids) < 0.1 else 0

        work_before = await work_done(listener, aging_pid, broker)
        load_before, own_before = os.getloadavg()[0], time.process_time()
        measured = await sender.on_schedule(planned, rate, rate * seconds)
        send_lag = sender.behind
        deadline = time.monotonic() + 60
        while sum(1 for i in measured if i in visible) < len(measured) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        own_cpu, load_after = time.process_time() - own_before, os.getloadavg()[0]
        await asyncio.sleep(1)  # server processes report their commits about once a second
        work = {name: spent - work_before.get(name, 0.0)
                for name, spent in (await work_done(listener, aging_pid, broker)).items()}
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{aging_url}/metrics")).text
    finally:
        await listener.close()

    lags = [(visible[i] - sent_at[i]) * 1000 for i in measured if i in visible]
    missing = len(measured) - len(lags)
    p99 = percentile(lags, 0.99)
    seen = [visible[i] for i in measured if i in visible]
    throughput = len(seen) / max(max(seen) - min(seen), 1e-9)
    own = histogram_p99(metrics)
    cpu_per_event = (sum(work.values()) + own_cpu) / len(measured)
    figures = [
        Figure("publish-to-visible p50", percentile(lags, 0.5), "ms", "Kafka alone p50",
               percentile(kafka_lags, 0.5)),
        Figure("publish-to-visible p99", p99, "ms", "Kafka alone p99",
               percentile(kafka_lags, 0.99), "< 20 ms", p99 < 20),
        Figure("publish-to-visible max", max(lags), "ms", "Kafka alone max",
               max(kafka_lags)),
        Figure("VISIBLE_LAG p99 (bucket bound, incl. probes)", own or float("nan"), "ms"),
        Figure("events made visible per second", throughput, "/s", "events sent per second",
               rate, f">= {rate}/s", throughput >= rate * 0.99),
        Figure("events visible", len(lags), "", "events sent", len(measured),
               f"all {len(measured)}", missing == 0),
        Figure("aging process CPU per event", work.pop("aging") * 1000 / len(measured), "ms"),
        Figure("Kafka broker CPU per event (all its clients: this one, aging)",
               work.pop("kafka") * 1000 / len(measured), "ms"),
        Figure("events per commit of the projection (its notices)",
               len(measured) / max(commits, 1), ""),
        Figure("PostgreSQL CPU per event (aging's connections)",
               sum(work.values()) * 1000 / len(measured), "ms"),
        Figure("this process's CPU per event (publisher, LISTEN)",
               own_cpu * 1000 / len(measured), "ms"),
        # Queues, and with them the tail of the lag, grow fast as this nears 100 %.
        Figure(f"share of the {CORES} cores all of the above keep busy at {rate}/s",
               cpu_per_event * rate / CORES * 100, "%"),
    ]
    print_table(f"aging projection lag ({len(measured):,} events at {rate}/s open loop over "
                f"{customers} customers; aging as its own process on Kafka and PostgreSQL)",
                figures)
    print(f"mean {statistics.mean(lags):.1f} ms; sender behind schedule by "
          f"{max(0.0, send_lag) * 1000:.0f} ms at the end; {missing} events not visible "
          f"after 60 s; load average {load_before:.2f} before the run, {load_after:.2f} after")


def polled(events: list, first_offset: int) -> list[ConsumerRecord]:
    """The events' records as a poll hands them to a consumer, from `first_offset` on."""
    records = []
    for offset, event in enumerate(events, first_offset):
        record = encode(event, event_id=f"writer-{offset}-{type(event).__name__}",
                        tenant=TENANT, source="bench-writer", time=datetime.now(UTC))
        records.append(ConsumerRecord(record.topic, 0, offset, 0, 0, record.key, record.value,
                                      None, len(record.key), len(record.value),
                                      tuple(record.headers)))
    return records


async def measure_writer(database_url: str, per_commit: int, events: int,
                         customers: int) -> None:
    """The projection's writer alone (libs/runtime/projection.py), as the aging process
    runs it once its consumers have polled: a batch from ar.invoicing and one from
    ar.matching per commit, `per_commit` events in all, in a schema of its own. The lag
    run's figures per event depend on how many events a commit holds, which grows when
    the machine is busy; here that number is fixed, so the figures compare across runs
    and machines. Decoding is timed apart."""
    made = [event for index in range(events * 2 // 3) for event in lag_events(index, customers)]
    invoices = polled([event for event in made if isinstance(event, InvoiceIssued)], 0)
    payments = polled([event for event in made if isinstance(event, PaymentApplied)], 0)
    started = time.process_time()
    decoded = {topic: [(record, *decode(record.headers, record.value)) for record in records]
               for topic, records in ((AR_INVOICING, invoices), (AR_MATCHING, payments))}
    decode_cpu = (time.process_time() - started) / (len(invoices) + len(payments))

    statements, backends = 0, []

    def count(_query: object) -> None:
        nonlocal statements
        statements += 1

    async def follow(connection: asyncpg.Connection) -> None:
        backends.append(await connection.fetchval("SELECT pg_backend_pid()"))
        connection.add_query_logger(count)

    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2, init=follow,
                                     reset=queries.keep_session)  # as the service's
    try:
        schema = "aging_writer"
        await projections.create_tables(pool, schema)
        writer = ProjectionWriter(pool, schema)
        from_invoicing = per_commit * 2 // 3
        from_matching = per_commit - from_invoicing
        commits = min(len(decoded[AR_INVOICING]) // from_invoicing,
                      len(decoded[AR_MATCHING]) // from_matching)

        async def commit(index: int) -> None:
            await asyncio.gather(*(
                writer.apply(decoded[topic][index * size:(index + 1) * size],
                             projections.HANDLERS[topic], projections.BATCH_HANDLERS)
                for topic, size in ((AR_INVOICING, from_invoicing),
                                    (AR_MATCHING, from_matching))))

        warm_up = commits // 5  # statements prepared, plans settled, tables analyzed
        for index in range(warm_up):
            await commit(index)
        statements = 0
        server_before = sum(cpu_seconds(pid) for pid in backends)
        client_before, wall_before = time.process_time(), time.perf_counter()
        for index in range(warm_up, commits):
            await commit(index)
        client = time.process_time() - client_before
        wall = time.perf_counter() - wall_before
        server = sum(cpu_seconds(pid) for pid in backends) - server_before
    finally:
        await pool.close()
    applied = (commits - warm_up) * per_commit
    print_table(f"aging projection writer alone ({applied:,} events, {per_commit} a commit: "
                f"{from_invoicing} invoices and {from_matching} payments; no Kafka)", [
        Figure("decoding CPU per event (libs.events.decode)", decode_cpu * 1000, "ms"),
        Figure("writer CPU per event, this process", client * 1000 / applied, "ms"),
        Figure("writer CPU per event, PostgreSQL", server * 1000 / applied, "ms"),
        Figure("statements per commit (round trips, BEGIN and COMMIT included)",
               statements / (commits - warm_up), ""),
        Figure("time per commit, one writer", wall * 1000 / (commits - warm_up), "ms"),
    ])


def lag_figures(rate: int, seconds: int, customers: int) -> None:
    infrastructure = prepare()
    service = ServiceProcess("aging", free_port(), infrastructure, LOG_LEVEL="WARNING")
    try:
        service.start(timeout=60)
        asyncio.run(measure_lag(infrastructure.kafka_bootstrap_servers,
                                infrastructure.database_url, service.url, rate, seconds,
                                customers, service.process.pid))
        service.stop()
        asyncio.run(measure_writer(infrastructure.database_url, per_commit=12, events=6000,
                                   customers=customers))
    finally:
        service.stop()
        tear_down(infrastructure)


# ---------------------------------------------------------------------------------------------
# Prediction error


def prediction_figures() -> None:
    invoices = [prediction.Invoice(i.invoice_number, i.customer_id, "USD", i.invoice_date,
                                   i.due_date, i.amount, i.settled_date)
                for i in load_ibm_sample()]
    dates = prediction.as_of_dates(invoices)
    model = prediction.backtest(invoices, dates)
    naive = prediction.backtest(invoices, dates, rule=prediction.on_due_date)
    print_table(f"payment prediction, IBM sample backtest ({model.predictions:,} open invoices "
                f"predicted on {len(dates)} dates, 8-week forecasts)", [
        Figure("expected payment date, mean abs. error", model.mean_absolute_error_days, "days",
               "paid on due date", naive.mean_absolute_error_days, "below baseline",
               model.mean_absolute_error_days < naive.mean_absolute_error_days),
        Figure("weekly cash-in forecast error", model.weekly_error_percent, "%",
               "paid on due date", naive.weekly_error_percent, "below baseline",
               model.weekly_error_percent < naive.weekly_error_percent),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--query-rate", type=int, default=200, help="balance requests/s")
    parser.add_argument("--query-seconds", type=float, default=5)
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the lag")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", choices=("queries", "lag", "prediction"))
    args = parser.parse_args()
    if args.only in (None, "prediction"):
        prediction_figures()
    if args.only in (None, "queries"):
        server_url = os.environ.get("DATABASE_URL",
                                    "postgresql://ar:ar@127.0.0.1:15432/receivables")
        asyncio.run(query_figures(server_url, args.items, args.customers, args.clients,
                                  args.query_rate, args.query_seconds))
    if args.only in (None, "lag"):
        lag_figures(args.rate, args.seconds, min(args.customers, 1000))


if __name__ == "__main__":
    main()
