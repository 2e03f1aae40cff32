"""The aging process: `python -m services.aging.main`."""

from __future__ import annotations

import asyncpg

from libs.runtime.clock import SystemClock
from libs.runtime.service import ServiceRuntime
from libs.runtime.settings import ServiceSettings

from . import analysts, projections, queries
from .api import aging_router
from .reports_api import reports_router


class AgingSettings(ServiceSettings):
    service_name: str = "aging"
    http_port: int = 8104
    database_pool_size: int = 10
    # The read-only analysts' login; unset: the views exist but no role is made.
    analyst_database_password: str | None = None


def build():  # noqa: ANN201
    settings = AgingSettings()
    runtime = ServiceRuntime(settings)
    pool_holder: dict[str, asyncpg.Pool] = {}

    async def open_pool() -> None:
        pool = await asyncpg.create_pool(settings.database_url, min_size=2,
                                         max_size=settings.database_pool_size,
                                         reset=queries.keep_session)
        await projections.create_tables(pool)
        await analysts.create_views(pool, settings.analyst_database_password)
        pool_holder["pool"] = pool
        projections.subscribe(runtime.broker, settings, pool)

    async def close_pool() -> None:
        await pool_holder["pool"].close()

    runtime.on_startup.append(open_pool)
    runtime.on_shutdown.append(close_pool)
    router = aging_router(pool_holder, SystemClock(), settings.default_tenant,
                          settings.database_url)
    reports = reports_router(pool_holder, SystemClock(), settings.default_tenant)
    return runtime, runtime.http_app(router, reports, title="Aging")


if __name__ == "__main__":
    runtime, app = build()
    runtime.serve(app)
