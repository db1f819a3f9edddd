"""E-mail over SMTP: STARTTLS required by default, TLS 1.2 or newer, a few reused connections."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import uuid
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate

import aiosmtplib
from pydantic import SecretStr

from services.notifier.adapters.provider import PermanentFailure, RateLimiter, TemporaryFailure
from services.notifier.ports import MailParts


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "lederkontakt@tidlig-indsats.dk"
    sender_name: str = "Tidlig Indsats"
    require_starttls: bool = True
    cafile: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 15.0
    per_second: float = 0.0
    connections: int = 4

    def __post_init__(self) -> None:
        # Without STARTTLS, AUTH would send the password in the clear to anyone on the path.
        if self.username and not self.require_starttls:
            raise ValueError("SMTP credentials are set but STARTTLS is not required: "
                             "the password would travel in the clear")


def _with_calendar(alternative: MIMEMultipart, calendar: bytes,
                   method: str) -> MIMEMultipart:
    """An invitation laid out as Google Calendar's own: the calendar object as the last
    alternative (text/calendar with its METHOD, which Outlook and Gmail turn into the
    accept/decline view), and the same bytes as an invite.ics attachment for mail readers that
    only offer attachments; multipart/mixed holds the two."""
    part = MIMEText(calendar.decode(), "calendar", "utf-8")
    part.set_param("method", method)
    alternative.attach(part)
    attachment = MIMEApplication(calendar, "ics", name="invite.ics")
    attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
    mixed = MIMEMultipart("mixed", boundary=_boundary())
    mixed.attach(alternative)
    mixed.attach(attachment)
    return mixed


def build_message(sender: str, sender_name: str, to: str, subject: str, body: str,
                  notification_id: str, parts: MailParts | None = None) -> MIMEText | MIMEMultipart:
    """A UTF-8 message: plain text alone, or multipart/alternative with the text first and the
    HTML after it (mail readers show the last part they can, so the richest goes last). The
    classic (compat32) email API takes a third of the time of EmailMessage, whose header parsing
    was the notifier's largest cost; names and subject go in as RFC 2047 encoded words, so no
    value can start a header of its own."""
    if "\r" in to or "\n" in to:
        raise PermanentFailure("recipient address contains a line break")
    parts = parts or MailParts()
    domain = sender.rpartition("@")[2] or "localhost"
    text = MIMEText(body, "plain", "utf-8")
    msg: MIMEText | MIMEMultipart
    if parts.html is None and parts.calendar is None:
        msg = text
    else:
        msg = MIMEMultipart("alternative", boundary=_boundary())
        msg.attach(text)
        if parts.html is not None:
            msg.attach(MIMEText(parts.html, "html", "utf-8"))
        if parts.calendar is not None:
            msg = _with_calendar(msg, parts.calendar, parts.calendar_method or "REQUEST")
    msg["From"] = formataddr((_encoded(sender_name), sender))
    msg["To"] = formataddr((_encoded(parts.to_name), to)) if parts.to_name else to
    msg["Subject"] = _encoded(subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(notification_id, domain)
    if parts.language:
        msg["Content-Language"] = _encoded(parts.language)
    return msg


class _Policy(Compat32):
    """compat32, except that a header which is one short printable line of ASCII (every header
    build_message writes: names and subject are encoded words already) is written out as it is.
    compat32 runs each header through email.header's folding algorithm, which gives such a
    line back unchanged; with fourteen headers a message (its parts' included) that was three
    quarters of the time it took to write a message out, the notifier's largest own cost."""

    def fold_binary(self, name: str, value: str) -> bytes:
        # A value may also be an email.header.Header (compat32 allows it): folded as before.
        if isinstance(value, str) and value.isascii() and value.isprintable() \
                and value == value.strip() and "  " not in value \
                and len(name) + len(value) + 2 <= (self.max_line_length or 78):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Policy()


def message_bytes(msg: Message) -> bytes:
    """The message as it goes over SMTP: the bytes msg.as_bytes() gives, written faster."""
    return msg.as_bytes(policy=_POLICY)


def _boundary() -> str:
    """A multipart boundary that cannot occur in the parts: every part is base64 (UTF-8 text
    included), and no base64 line starts with "=_". Left to itself the email package makes one
    up and searches every part for it with a regular expression compiled for that one message:
    a fifth of the time it takes to write a message out."""
    return f"=_{uuid.uuid4().hex}"


def _encoded(value: str) -> str:
    """Plain ASCII on one line stays as it is; anything else becomes RFC 2047 encoded words."""
    if value.isascii() and value.isprintable():
        return value
    return Header(value, "utf-8").encode()


def message_id(notification_id: str, domain: str) -> str:
    """The same notification always gets the same Message-ID, so a repeat can be recognised."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@{domain}>"


class SmtpSender:
    """Up to `connections` messages in flight, each on a connection of its own; a connection
    that saw an error is dropped and a new one opened for the next message."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(max(1, config.connections))
        self._limiter = RateLimiter(config.per_second)

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.config
        smtp = aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=cfg.timeout,
                               start_tls=cfg.require_starttls,
                               tls_context=self._tls_context() if cfg.require_starttls else None)
        await smtp.connect()
        if cfg.username:
            await smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        return smtp

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except aiosmtplib.SMTPException:
                    smtp.close()

    async def send(self, to: str, subject: str, body: str, notification_id: str,
                   parts: MailParts | None = None) -> str:
        msg = build_message(self.config.sender, self.config.sender_name, to, subject, body,
                            notification_id, parts)
        # Written out before a connection is taken: the connection is not held idle meanwhile.
        data = message_bytes(msg)
        await self._limiter.wait()
        async with self._slots:
            smtp: aiosmtplib.SMTP | None = None
            handed_over = False
            try:
                while self._idle and smtp is None:
                    candidate = self._idle.pop()
                    smtp = candidate if candidate.is_connected else None
                if smtp is None:
                    smtp = await self._connect()
                await smtp.mail(self.config.sender)
                await smtp.rcpt(to)
                # From DATA on, a lost connection leaves it open whether the server took it.
                handed_over = True
                await smtp.data(data)
            except aiosmtplib.SMTPRecipientRefused as exc:
                _discard(smtp)
                if 400 <= exc.code < 500:
                    raise TemporaryFailure(f"recipient refused ([{exc.code}])") from None
                raise PermanentFailure(f"recipient refused ([{exc.code}])") from None
            except aiosmtplib.SMTPResponseException as exc:
                _discard(smtp)
                if 400 <= exc.code < 500:
                    raise TemporaryFailure(f"SMTP {exc.code} {exc.message}") from None
                raise PermanentFailure(f"SMTP {exc.code} {exc.message}") from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                _discard(smtp)
                raise TemporaryFailure(f"SMTP unavailable: {type(exc).__name__}",
                                       maybe_delivered=handed_over) from None
            except BaseException:
                _discard(smtp)
                raise
            self._idle.append(smtp)
        return str(msg["Message-ID"])


def _discard(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()
