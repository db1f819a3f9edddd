"""E-mail over SMTP: STARTTLS required by default, TLS 1.2 or newer, one reused connection."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from services.notifier.adapters.delivery import PermanentFailure, RateLimiter, TemporaryFailure


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "lederkontakt@tidlig-indsats.dk"
    sender_name: str = "Tidlig Indsats"
    require_starttls: bool = True
    cafile: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 15.0
    per_second: float = 0.0


def message_id(notification_id: str, domain: str) -> str:
    """The same notification always gets the same Message-ID, so a repeat can be recognised."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@{domain}>"


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
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
            await smtp.login(cfg.username, cfg.password or "")
        return smtp

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except aiosmtplib.SMTPException:
                self._smtp.close()
        self._smtp = None

    async def send(self, to: str, subject: str, body: str, notification_id: str) -> str:
        domain = self.config.sender.rpartition("@")[2] or "localhost"
        msg = EmailMessage()
        msg["From"] = formataddr((self.config.sender_name, self.config.sender))
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(notification_id, domain)
        msg.set_content(body)
        await self._limiter.wait()
        async with self._lock:
            try:
                if self._smtp is None or not self._smtp.is_connected:
                    self._smtp = await self._connect()
                await self._smtp.send_message(msg)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                await self._reset_after_error()
                if all(400 <= c < 500 for c in codes):
                    raise TemporaryFailure(f"recipient refused ({codes})") from None
                raise PermanentFailure(f"recipient refused ({codes})") from None
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset_after_error()
                if 400 <= exc.code < 500:
                    raise TemporaryFailure(f"SMTP {exc.code} {exc.message}") from None
                raise PermanentFailure(f"SMTP {exc.code} {exc.message}") from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._reset_after_error()
                raise TemporaryFailure(f"SMTP unavailable: {type(exc).__name__}") from None
        return str(msg["Message-ID"])

    async def _reset_after_error(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None
