"""The credit process: `python -m services.credit.main`."""

from __future__ import annotations

import asyncio
import logging

from libs.runtime.causation import Causation
from libs.runtime.clock import SystemClock
from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .api import credit_router
from .application import CreditApplication, to_integration_events
from .domain import CreditPolicy
from .projections import CreditViews

log = logging.getLogger(__name__)


class CreditSettings(ServiceSettings):
    service_name: str = "credit"
    http_port: int = 8106
    # The currency limits and exposure are kept in, until a tenant sets its policy.
    functional_currency: str = "EUR"
    # Invoices become overdue with time alone: every account is re-assessed this often.
    credit_review_interval_seconds: float = 3600.0


def build():  # noqa: ANN201
    settings = CreditSettings()
    runtime = ServiceRuntime(settings)
    credit = open_application(CreditApplication, settings)
    credit.clock = SystemClock()
    credit.default_policy = CreditPolicy(functional_currency=settings.functional_currency.upper())
    views = CreditViews(credit)
    handlers.subscribe(runtime.broker, settings, credit)
    runtime.publish_from(credit, to_integration_events)

    async def review_periodically(stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(),
                                       timeout=settings.credit_review_interval_seconds)
                return
            except TimeoutError:
                pass
            try:
                for tenant in await asyncio.to_thread(views.tenants):
                    for customer_id in await asyncio.to_thread(views.customers_of, tenant):
                        await asyncio.to_thread(credit.review, Causation(
                            tenant=tenant, actor="credit-review"), customer_id)
            except Exception as error:  # noqa: BLE001 - the next review tries again
                log.warning("credit review failed: %r", error)

    runtime.background.append(review_periodically)
    return runtime, runtime.http_app(credit_router(credit, views, settings.default_tenant),
                                     title="Credit")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
