"""The invoicing process: `python -m services.invoicing.main`."""

from __future__ import annotations

from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .application import InvoicingApplication, to_integration_events


class InvoicingSettings(ServiceSettings):
    service_name: str = "invoicing"
    http_port: int = 8101


def build():  # noqa: ANN201
    settings = InvoicingSettings()
    runtime = ServiceRuntime(settings)
    invoicing = open_application(InvoicingApplication, settings)
    handlers.subscribe(runtime.broker, settings, invoicing)
    runtime.publish_from(invoicing, to_integration_events)
    return runtime, runtime.http_app(title="Invoicing")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
