from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.reporting.domain.orgunits import OrgUnits

DEFAULT_ORG_UNITS = Path(__file__).resolve().parents[2] / "config" / "org-units.toml"


class ReportingSettings(BaseSettings):
    """LEDERKONTAKT_REPORTING_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_REPORTING_", extra="ignore")

    org_units: Path = DEFAULT_ORG_UNITS
    retention_days: int = 3 * 365 + 1
    publish_seconds: float = 30.0
    batch_size: int = 2000
    web_port: int | None = None
    web_host: str = "127.0.0.1"

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    def load_org_units(self) -> OrgUnits:
        return OrgUnits.from_toml(self.org_units.read_text(encoding="utf-8"))
