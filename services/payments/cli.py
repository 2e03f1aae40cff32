"""Command line: `python -m services.payments.cli record-payment --amount 100.00 ...`.

Writes through the same application as the HTTP endpoint; the payments service's
outbox relay publishes the event.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from pydantic import ValidationError

from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_application

from .application import ConflictingPayment, PaymentsApplication, RecordPayment, payment_view
from .main import PaymentsSettings


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)

    settings = PaymentsSettings()
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


if __name__ == "__main__":
    sys.exit(main())
