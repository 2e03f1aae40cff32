"""Command line: record a payment, or import a bank statement file.

    python -m services.payments.cli record-payment --amount 100.00 --currency USD ...
    python -m services.payments.cli import-statement FILE [--format mt940] [--csv-mapping PRESET]

Writes through the same application as the HTTP endpoints; the payments service's
outbox relay publishes the events. A rejected statement prints `FILE:LOCATION: message`
on standard error and exits with 2, like a compiler, so scripts and editors can point
at the place.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from pydantic import ValidationError

from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_application

from .application import (
    ConflictingPayment,
    PaymentsApplication,
    RecordPayment,
    csv_mapping_named,
    payment_view,
)
from .main import PaymentsSettings
from .statements import PRESETS, StatementRejected


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="payments")
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record-payment", help="record a received payment")
    record.add_argument("--amount", required=True)
    record.add_argument("--currency", required=True)
    record.add_argument("--value-date", required=True, help="YYYY-MM-DD")
    record.add_argument("--reference", help="bank reference; a new one is made if omitted")
    record.add_argument("--customer-id")
    record.add_argument("--payer-name")
    record.add_argument("--payer-account")
    record.add_argument("--remittance", dest="remittance_text")
    record.add_argument("--tenant")
    statement = commands.add_parser("import-statement", help="import a bank statement file")
    statement.add_argument("file", type=Path)
    statement.add_argument("--format", choices=["camt", "mt940", "bai2", "csv"],
                           help="sniffed from the content when omitted (CSV needs a mapping)")
    statement.add_argument("--csv-mapping", choices=sorted(PRESETS))
    statement.add_argument("--tenant")
    return parser.parse_args(argv)


def record_payment(args: argparse.Namespace, settings: PaymentsSettings) -> int:
    try:
        command = RecordPayment(
            reference=args.reference or f"cli-{uuid.uuid4()}", amount=args.amount,
            currency=args.currency, value_date=args.value_date, customer_id=args.customer_id,
            payer_name=args.payer_name, payer_account=args.payer_account,
            remittance_text=args.remittance_text)
    except ValidationError as error:
        for problem in error.errors():
            print(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 2
    payments = open_application(PaymentsApplication, settings)
    causation = Causation(tenant=args.tenant or settings.default_tenant, actor="cli")
    try:
        payment, created = payments.record_payment(command, causation)
    except ConflictingPayment as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"created": created, **payment_view(payment)}))
    return 0


def import_statement(args: argparse.Namespace, settings: PaymentsSettings) -> int:
    if args.format == "csv" and args.csv_mapping is None:
        print(f"{args.file}: a CSV file needs --csv-mapping (one of {sorted(PRESETS)})",
              file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as error:
        print(f"{args.file}: cannot be read: {error.strerror}", file=sys.stderr)
        return 2
    payments = open_application(PaymentsApplication, settings)
    causation = Causation(tenant=args.tenant or settings.default_tenant,
                          actor=f"cli:{args.file.name}")
    try:
        summary = payments.import_statement(data, args.format, csv_mapping_named(args.csv_mapping),
                                            causation)
    except StatementRejected as error:
        print(f"{args.file}:{error.location}: {error.message}", file=sys.stderr)
        return 2
    print(summary.model_dump_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    settings = PaymentsSettings()
    if args.command == "import-statement":
        return import_statement(args, settings)
    return record_payment(args, settings)


if __name__ == "__main__":
    sys.exit(main())
