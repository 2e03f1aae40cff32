"""Command line: `python -m services.dunning.cli run-due --date 2026-03-01 [--tenant acme]`.

Runs the same due actions as `POST /runs` and the service's schedule, against the same
database (a per-tenant lock keeps two runs from overlapping), and prints what it did.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from .main import DunningSettings, compose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dunning")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run-due", help="run the due actions of a date")
    run.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD; default today")
    run.add_argument("--tenant", help="default: DEFAULT_TENANT")
    deliver = commands.add_parser("deliver-pending", help="email letters stored but not yet sent")
    deliver.add_argument("--tenant", help="default: DEFAULT_TENANT")
    rebuild = commands.add_parser("rebuild-views", help="rebuild the read model from the log")
    del rebuild
    args = parser.parse_args(argv)

    settings = DunningSettings()
    dunning, views, runner, clock = compose(settings)
    try:
        if args.command == "run-due":
            report = runner.run_due_actions(args.tenant or settings.default_tenant,
                                            args.date or clock.today(), "cli")
            print(json.dumps(report.as_dict(), indent=2))
        elif args.command == "deliver-pending":
            print(json.dumps(runner.deliver_pending(args.tenant or settings.default_tenant),
                             indent=2))
        else:
            print(json.dumps({"position": views.rebuild()}))
    finally:
        views.store.close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
