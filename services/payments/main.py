"""The payments process: `python -m services.payments.main`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from .api import payments_router
from .application import PaymentsApplication, csv_mapping_named, to_integration_events
from .inbox import StatementInbox


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    http_port: int = 8102
    # A folder banks' file transfers drop statements into; unset, nothing is watched.
    payments_inbox_dir: Path | None = None
    payments_inbox_poll_seconds: float = 2.0
    # The CSV mapping preset for .csv files in the inbox (other formats say what they are).
    payments_inbox_csv_mapping: str | None = None
    # Shared with the card and online payment providers; unset, the webhook refuses all.
    payments_webhook_secret: SecretStr | None = None


def build():  # noqa: ANN201
    settings = PaymentsSettings()
    runtime = ServiceRuntime(settings)
    payments = open_application(PaymentsApplication, settings)
    runtime.publish_from(payments, to_integration_events)
    if settings.payments_inbox_dir is not None:
        inbox = StatementInbox(payments, settings.payments_inbox_dir, settings.default_tenant,
                               csv_mapping_named(settings.payments_inbox_csv_mapping),
                               settings.payments_inbox_poll_seconds)
        runtime.background.append(inbox.run)
    secret = settings.payments_webhook_secret
    router = payments_router(payments, settings.default_tenant,
                             secret.get_secret_value() if secret else None)
    return runtime, runtime.http_app(router, title="Payments")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
