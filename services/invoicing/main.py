"""The invoicing process: `python -m services.invoicing.main`."""

from __future__ import annotations

from libs.runtime.clock import SystemClock
from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .api import invoicing_router
from .application import InvoicingApplication, to_integration_events
from .currency import FunctionalCurrencies


class InvoicingSettings(ServiceSettings):
    service_name: str = "invoicing"
    http_port: int = 8101
    # The currency each tenant keeps its books in: FUNCTIONAL_CURRENCY for all,
    # TENANT_FUNCTIONAL_CURRENCIES='{"acme-us": "USD"}' for those that differ.
    functional_currency: str = "EUR"
    tenant_functional_currencies: dict[str, str] = {}

    def functional_currencies(self) -> FunctionalCurrencies:
        return FunctionalCurrencies(self.functional_currency.upper(),
                                    {tenant: currency.upper() for tenant, currency
                                     in self.tenant_functional_currencies.items()})


def build():  # noqa: ANN201
    settings = InvoicingSettings()
    runtime = ServiceRuntime(settings)
    invoicing = open_application(InvoicingApplication, settings)
    invoicing.functional_currencies = settings.functional_currencies()
    invoicing.clock = SystemClock()
    handlers.subscribe(runtime.broker, settings, invoicing)
    runtime.publish_from(invoicing, to_integration_events)
    return runtime, runtime.http_app(invoicing_router(invoicing, settings.default_tenant),
                                     title="Invoicing")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
