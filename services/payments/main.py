"""The payments process: `python -m services.payments.main`."""

from __future__ import annotations

from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from .api import payments_router
from .application import PaymentsApplication, to_integration_events


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    http_port: int = 8102


def build():  # noqa: ANN201
    settings = PaymentsSettings()
    runtime = ServiceRuntime(settings)
    payments = open_application(PaymentsApplication, settings)
    runtime.publish_from(payments, to_integration_events)
    return runtime, runtime.http_app(payments_router(payments, settings.default_tenant),
                                     title="Payments")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
