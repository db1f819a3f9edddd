from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events import ReferredPerson
from shared.portal_links import DEFAULT_PORTAL_URL

Role = Literal["leader", "employee", "psychologist", "team_lead", "management"]
ROLES: tuple[Role, ...] = ("leader", "employee", "psychologist", "team_lead", "management")
DEFAULT_ORG_UNITS = Path(__file__).resolve().parents[2] / "config" / "org-units.toml"


class PortalSettings(BaseSettings):
    """The portal's settings, from LEDERKONTAKT_PORTAL_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_PORTAL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    # The address people use; the OIDC redirect URI and the links in staff mails are built from it.
    public_url: str = DEFAULT_PORTAL_URL
    oidc_issuer: str = "http://127.0.0.1:9400"
    oidc_client_id: str = "lederkontakt-portal"
    oidc_client_secret: SecretStr = SecretStr("portal-secret")
    oidc_scope: str = "openid profile email"
    # Which claim carries the roles and which the person id, and how the identity provider's
    # role names map to the portal's.
    role_claim: str = "roles"
    person_id_claim: str = "person_id"
    role_map: dict[str, Role] = Field(default_factory=lambda: {str(r): r for r in ROLES})
    session_secret: SecretStr = SecretStr("change-me-in-production-please-0123456789")
    cookie_secure: bool = True
    session_max_age_seconds: int = 8 * 3600
    max_body_bytes: int = 64 * 1024
    publish_timeout_seconds: float = 10.0
    read_your_write_timeout_seconds: float = 5.0
    # Who a new referral goes to until a team lead reassigns it, and whom a team lead can choose.
    intake_psychologist: ReferredPerson | None = None
    intake_team_lead: ReferredPerson | None = None
    psychologists: list[ReferredPerson] = Field(default_factory=list)
    # The units the referral form offers (the reporting service reads the same file).
    org_units: Path = DEFAULT_ORG_UNITS
