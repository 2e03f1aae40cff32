"""Email out through SMTP (stdlib smtplib, called from a worker thread), and what the mail
server answered: delivered (with its reply), refused recipient, rejected message, or a
transient failure worth another attempt.

Asynchronous bounces (a non-delivery report arriving hours later) are not seen here; the
mail system reports them to `POST /letters/{letter_id}/bounces`.
"""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Protocol

from libs.runtime.clock import Clock, SystemClock


@dataclass(frozen=True)
class OutgoingEmail:
    letter_id: str
    recipient: str
    subject: str
    body: str
    language: str


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    at: str
    message_id: str
    server_reply: str = ""
    permanent: bool = False
    reason: str = ""
    refused_recipients: tuple[str, ...] = field(default_factory=tuple)


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> DeliveryOutcome: ...


def message_id(letter_id: str) -> str:
    """The same letter always has the same Message-ID: a re-sent copy is recognisable as
    the same message (and mail systems that deduplicate drop it)."""
    return f"<{letter_id}@dunning.receivables>"


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0,
                 clock: Clock | None = None) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.clock = clock or SystemClock()

    def message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = format_datetime(self.clock.now())
        message["Message-ID"] = message_id(email.letter_id)
        message["X-Dunning-Letter"] = email.letter_id
        message.set_content(email.body)
        message["Content-Language"] = email.language  # after set_content, which resets Content-*
        return message

    def send(self, email: OutgoingEmail) -> DeliveryOutcome:
        at = self.clock.now().isoformat()
        identity = message_id(email.letter_id)

        def failed(code: int, reply: bytes | str, refused: tuple[str, ...] = ()) -> DeliveryOutcome:
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
            return DeliveryOutcome(False, at, identity, permanent=500 <= code < 600,
                                   reason=f"{code} {text}".strip(), refused_recipients=refused)

        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo_or_helo_if_needed()
                # The low-level dialogue, so that the server's reply to the message (its
                # queue id) is kept with the letter and every refusal has its code.
                code, reply = smtp.mail(self.sender)
                if code != 250:
                    return failed(code, reply)
                code, reply = smtp.rcpt(email.recipient)
                if code not in (250, 251):
                    smtp.rset()
                    return failed(code, reply, (email.recipient,))
                # CRLF line ends: smtplib sends bytes as they are, and a bare LF makes one
                # endless line that servers refuse ("500 Line too long").
                code, reply = smtp.data(self.message(email).as_bytes(policy=SMTP_POLICY))
                if code != 250:
                    return failed(code, reply)
                return DeliveryOutcome(True, at, identity,
                                       server_reply=f"{code} {reply.decode(errors='replace')}")
        except smtplib.SMTPDataError as error:
            return failed(error.smtp_code, error.smtp_error)
        except smtplib.SMTPResponseException as error:
            return failed(error.smtp_code, error.smtp_error)
        except (OSError, socket.timeout, smtplib.SMTPException) as error:
            # The server could not be reached or hung up: nothing was accepted, try again later.
            return DeliveryOutcome(False, at, identity, permanent=False,
                                   reason=f"mail server {self.host}:{self.port} unreachable: {error!r}")
