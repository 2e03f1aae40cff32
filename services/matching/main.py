"""The matching process: `python -m services.matching.main`."""

from __future__ import annotations

import asyncio

from libs.runtime.clock import SystemClock
from libs.runtime.eventstore import open_application
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import handlers
from .api import matching_router
from .application import MatchingApplication, to_integration_events


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    http_port: int = 8103


def build():  # noqa: ANN201
    settings = MatchingSettings()
    runtime = ServiceRuntime(settings)
    matching = open_application(MatchingApplication, settings)
    handlers.subscribe(runtime.broker, settings, matching)
    runtime.publish_from(matching, to_integration_events)
    # Fold the stored events into the decision book before the first record arrives.
    runtime.on_startup.append(lambda: asyncio.to_thread(matching.state))
    return runtime, runtime.http_app(
        matching_router(matching, settings.default_tenant, SystemClock()), title="Matching")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
