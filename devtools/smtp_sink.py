"""A real SMTP server (aiosmtpd) that keeps every mail it gets: for tests and local runs."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def local_tls(folder: Path | None = None) -> tuple[ssl.SSLContext, str]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost: the server's TLS
    context, and the path of the CA file a client should trust."""
    import tempfile

    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    cafile = (folder or Path(tempfile.mkdtemp(prefix="lederkontakt-tls-"))) / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return server, str(cafile)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    received_at: float = field(default_factory=time.time)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def _part(self, subtype: str) -> str | None:
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                payload = part.get_payload(decode=True)
                return payload.decode() if isinstance(payload, bytes) else str(payload)
        return None

    @property
    def body(self) -> str:
        """The plain-text part (the whole body of a message that has only that)."""
        return self._part("plain") or ""

    @property
    def html(self) -> str | None:
        return self._part("html")

    @property
    def calendar(self) -> str | None:
        """The invitation's text/calendar part, if the mail carries one."""
        return self._part("calendar")

    @property
    def to(self) -> str:
        return self.recipients[0] if self.recipients else ""


@dataclass
class MailSink:
    """The aiosmtpd handler. `replies` holds SMTP replies to give instead of accepting,
    one per DATA command, for failure tests (e.g. "451 try later", "550 no such user")."""

    mails: list[Mail] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    folder: Path | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        mail = Mail(envelope.mail_from, list(envelope.rcpt_tos),
                    message_from_bytes(envelope.original_content or envelope.content,
                                       policy=policy.default))
        self.mails.append(mail)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{len(self.mails):05d}.eml"
            (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 OK"


def start_sink(tls_context: ssl.SSLContext | None, port: int | None = None,
               folder: Path | None = None) -> tuple[Controller, MailSink]:
    """Start the server on 127.0.0.1; with a TLS context, STARTTLS is offered and required."""
    sink = MailSink(folder=folder)
    controller = Controller(sink, hostname="127.0.0.1", port=port or free_port(),
                            tls_context=tls_context, require_starttls=tls_context is not None,
                            server_hostname="localhost", ready_timeout=10)
    controller.start()
    return controller, sink
