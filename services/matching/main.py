"""The matching process: `python -m services.matching.main`.

Besides deciding on payments as they arrive, it checks the invoices the ERP says are
paid against our cash every MATCHING_ERP_PAID_CHECK_INTERVAL_SECONDS (unless
MATCHING_ERP_PAID_CHECKS_ENABLED=false), once their MATCHING_ERP_PAID_GRACE_DAYS have
passed: bank statements lag the ERP by a day or two.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from libs.runtime.clock import SystemClock
from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .api import matching_router
from .application import MatchingApplication, to_integration_events

log = logging.getLogger(__name__)


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    http_port: int = 8103
    matching_erp_paid_grace_days: int = 2
    matching_erp_paid_checks_enabled: bool = True
    matching_erp_paid_check_interval_seconds: int = 3600


def build():  # noqa: ANN201
    settings = MatchingSettings()
    runtime = ServiceRuntime(settings)
    clock = SystemClock()
    matching = open_application(MatchingApplication, settings)
    matching.clock = clock
    matching.erp_paid_grace = timedelta(days=settings.matching_erp_paid_grace_days)
    handlers.subscribe(runtime.broker, settings, matching)
    runtime.publish_from(matching, to_integration_events)
    # Fold the stored events into the decision book before the first record arrives.
    runtime.on_startup.append(lambda: asyncio.to_thread(matching.state))

    async def check_erp_paid_invoices(stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.to_thread(matching.check_erp_paid)
            except Exception as error:  # noqa: BLE001 - the checks are stored: the next run catches up
                log.warning("ERP-paid check failed: %r; the next one catches up", error)
            try:
                await asyncio.wait_for(stopping.wait(),
                                       settings.matching_erp_paid_check_interval_seconds)
            except TimeoutError:
                pass

    if settings.matching_erp_paid_checks_enabled:
        runtime.background.append(check_erp_paid_invoices)
    return runtime, runtime.http_app(
        matching_router(matching, settings.default_tenant, clock), title="Matching")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
