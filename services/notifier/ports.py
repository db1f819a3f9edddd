"""What the notifier's handlers need of the world: live views of people and consents, and a
way to send e-mail and SMS. The adapters implement them on Kafka, SMTP and HTTP; the tests'
fakes implement them in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

V_co = TypeVar("V_co", covariant=True)


class View(Protocol[V_co]):
    def get(self, key: str) -> V_co | None: ...

    async def catch_up(self) -> None:
        """Return once everything written to the view's topic before the call is applied."""
        ...


class NobodyErased:
    """A view of `erasures` for tests that erase no one."""

    def get(self, key: str) -> bool | None:
        return None

    async def catch_up(self) -> None: ...


@dataclass(frozen=True)
class MailParts:
    """What a mail says beyond its subject and plain text: the same words as an HTML part,
    the language of both (`Content-Language`), the recipient's name for `To:`, and a meeting
    as an iCalendar object with its METHOD (REQUEST or CANCEL)."""

    html: str | None = None
    language: str | None = None
    to_name: str | None = None
    calendar: bytes | None = None
    calendar_method: str | None = None


class MailSender(Protocol):
    async def send(self, to: str, subject: str, body: str, notification_id: str,
                   parts: MailParts | None = None) -> str:
        """Send one message; returns its Message-ID."""
        ...

    async def close(self) -> None: ...


class SmsProvider(Protocol):
    async def send(self, msisdn: str, text: str, reference: str) -> str:
        """Send `text` to an E.164 number; returns the provider's message id."""
        ...

    async def close(self) -> None: ...
