"""A real SMTP server for the tests, run as its own process:

    python -m tests.support.smtp_sink --port 2525 --folder /tmp/mail

Every message it accepts is written to the folder as `<n>.eml` (written under a temporary
name, then renamed, so a reader never sees half a message) and answered with
"250 OK queued as <n>". Recipients at `refused.example` are refused with 550, the way a
mail server refuses a mailbox that does not exist.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

REFUSED_DOMAIN = "@refused.example"


class FolderHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.numbers = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options):  # noqa: ANN001, N802
        if address.lower().endswith(REFUSED_DOMAIN):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        number = next(self.numbers)
        partial = self.folder / f".{number}.partial"
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, self.folder / f"{number}.eml")
        return f"250 OK queued as {number}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(FolderHandler(args.folder), hostname="127.0.0.1", port=args.port)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()


if __name__ == "__main__":
    main()
