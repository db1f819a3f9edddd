from __future__ import annotations

from datetime import time

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifier.adapters.sms import GatewayApiConfig
from services.notifier.adapters.smtp import SmtpConfig
from shared.portal_links import DEFAULT_PORTAL_URL, PORTAL_URL_VARIABLE


class NotifierSettings(BaseSettings):
    """LEDERKONTAKT_NOTIFIER_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_NOTIFIER_", extra="ignore",
                                      populate_by_name=True)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "lederkontakt@tidlig-indsats.dk"
    smtp_require_starttls: bool = True
    smtp_cafile: str | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_per_second: float = 0.0
    smtp_connections: int = 4
    sms_base_url: str = "https://gatewayapi.com"
    sms_token: SecretStr = SecretStr("")
    sms_sender: str = "TidligInds"
    sms_per_second: float = 0.0
    quiet_from: time = time(20, 0)
    quiet_to: time = time(8, 0)
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    tick_seconds: float = 0.5
    # Requests read and committed together, and how many of them are worked on at once.
    batch_size: int = 200
    concurrency: int = 16
    # A request naming a role its course's record does not show yet, but may still get (the
    # referral service writes the record a moment after the course event), waits for it in its
    # slot until this long after it was written; then it is parked in the ledger and looked at
    # again (the whole gate), first after `membership_retry_seconds`, the pauses doubling up to
    # five minutes, until `membership_horizon_seconds` after it was parked, when it is
    # suppressed as not_in_role.
    membership_wait_seconds: float = 2.0
    membership_retry_seconds: float = 5.0
    membership_horizon_seconds: float = 86400.0
    # The portal's address (the portal's own setting), the base of the links in staff mails.
    portal_url: str = Field(DEFAULT_PORTAL_URL, validation_alias=AliasChoices(PORTAL_URL_VARIABLE))
    # When the morning digests go out on working days (Copenhagen time); the scheduler's
    # reminders fall due at the same moment.
    digest_at: time = time(8, 30)

    @model_validator(mode="after")
    def _credentials_only_over_tls(self) -> NotifierSettings:
        if self.smtp_username and not self.smtp_require_starttls:
            raise ValueError("LEDERKONTAKT_NOTIFIER_SMTP_USERNAME is set but "
                             "LEDERKONTAKT_NOTIFIER_SMTP_REQUIRE_STARTTLS is false: the SMTP "
                             "password would travel in the clear")
        return self

    def smtp(self) -> SmtpConfig:
        return SmtpConfig(host=self.smtp_host, port=self.smtp_port, sender=self.smtp_sender,
                          require_starttls=self.smtp_require_starttls, cafile=self.smtp_cafile,
                          username=self.smtp_username,
                          password=self.smtp_password,
                          per_second=self.smtp_per_second, connections=self.smtp_connections)

    def sms(self) -> GatewayApiConfig:
        return GatewayApiConfig(base_url=self.sms_base_url, token=self.sms_token,
                                sender=self.sms_sender, per_second=self.sms_per_second)
