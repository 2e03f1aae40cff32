"""The dunning process: `python -m services.dunning.main`.

Consumes invoices, payments and customers; stores cases; publishes through the outbox
relay; serves the collectors' API; and, unless DUNNING_SCHEDULE_ENABLED=false, runs each
tenant's due actions for the clock's today every DUNNING_RUN_INTERVAL_SECONDS. Letters
stored but not yet emailed when the process stopped go out at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, UTC

from libs.runtime.clock import Clock, FixedClock, SystemClock
from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .api import dunning_router
from .application import DunningApplication, to_integration_events
from .mailer import SmtpMailer
from .projections import DunningViews, PostgresViews
from .runs import DunningRunner

log = logging.getLogger(__name__)


class DunningSettings(ServiceSettings):
    service_name: str = "dunning"
    http_port: int = 8105
    dunning_smtp_host: str | None = None
    dunning_smtp_port: int = 25
    dunning_smtp_sender: str = "accounts-receivable@receivables.invalid"
    dunning_smtp_timeout_seconds: float = 10.0
    dunning_schedule_enabled: bool = True
    dunning_run_interval_seconds: int = 3600
    # Pins "today" for a demo or an acceptance environment; runs can also be given a date.
    dunning_today: date | None = None


def make_clock(settings: DunningSettings) -> Clock:
    if settings.dunning_today is not None:
        return FixedClock(datetime.combine(settings.dunning_today, time(9), tzinfo=UTC))
    return SystemClock()


def compose(settings: DunningSettings) -> tuple[DunningApplication, DunningViews, DunningRunner, Clock]:
    """The real adapters: PostgreSQL event store and read model, SMTP when configured."""
    clock = make_clock(settings)
    dunning = open_application(DunningApplication, settings)
    views = DunningViews(dunning, PostgresViews(settings.database_url, settings.database_schema))
    mailer = SmtpMailer(settings.dunning_smtp_host, settings.dunning_smtp_port,
                        settings.dunning_smtp_sender, settings.dunning_smtp_timeout_seconds,
                        clock) if settings.dunning_smtp_host else None
    return dunning, views, DunningRunner(dunning, views, mailer, clock), clock


def build():  # noqa: ANN201
    settings = DunningSettings()
    runtime = ServiceRuntime(settings)
    dunning, views, runner, clock = compose(settings)
    handlers.subscribe(runtime.broker, settings, dunning)
    runtime.publish_from(dunning, to_integration_events)

    async def deliver_what_a_crash_left_pending(stopping: asyncio.Event) -> None:
        try:
            await asyncio.to_thread(views.catch_up)
            for tenant in await asyncio.to_thread(views.store.tenants):
                await asyncio.to_thread(runner.deliver_pending, tenant)
        except Exception as error:  # noqa: BLE001 - the next run delivers them
            log.warning("pending letters not delivered at start: %r", error)

    async def run_every_day(stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.to_thread(views.catch_up)
                for tenant in await asyncio.to_thread(views.store.tenants):
                    await asyncio.to_thread(runner.run_due_actions, tenant, clock.today(),
                                            "dunning-schedule")
            except Exception as error:  # noqa: BLE001 - timers are durable: the next run catches up
                log.warning("scheduled run failed: %r; the next one catches up", error)
            try:
                await asyncio.wait_for(stopping.wait(), settings.dunning_run_interval_seconds)
            except TimeoutError:
                pass

    runtime.background.append(deliver_what_a_crash_left_pending)
    if settings.dunning_schedule_enabled:
        runtime.background.append(run_every_day)

    async def close_views() -> None:
        views.store.close()  # type: ignore[attr-defined]

    runtime.on_shutdown.append(close_views)
    return runtime, runtime.http_app(
        dunning_router(dunning, views, runner, clock, settings.default_tenant), title="Dunning")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
