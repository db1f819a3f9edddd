from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.referral.domain.staff import StaffDirectory, StaffRole
from shared.events import ReferredPerson
from shared.portal_links import DEFAULT_PORTAL_URL

Role = Literal["leader", "employee", "psychologist", "team_lead", "management"]
ROLES: tuple[Role, ...] = ("leader", "employee", "psychologist", "team_lead", "management")
DEFAULT_ORG_UNITS = Path(__file__).resolve().parents[2] / "config" / "org-units.toml"


class PortalSettings(BaseSettings):
    """The portal's settings, from LEDERKONTAKT_PORTAL_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_PORTAL_", extra="ignore",
                                      populate_by_name=True)

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
    # Who a new referral goes to until a team lead reassigns it, and (development only, without
    # a staff directory) whom a team lead can choose.
    intake_psychologist: ReferredPerson | None = None
    intake_team_lead: ReferredPerson | None = None
    psychologists: list[ReferredPerson] = Field(default_factory=list)
    # The team's staff directory, the file the referral service reads: a team lead can choose
    # only its psychologists, so that nobody else becomes a course's psychologist.
    staff_file: Path | None = Field(default=None, validation_alias="LEDERKONTAKT_STAFF_FILE")
    # Development and tests only, as for the referral service: the portal may start without
    # the directory, and then a course may be reassigned to any id.
    development: bool = Field(default=False, validation_alias="LEDERKONTAKT_DEVELOPMENT")
    # The units the referral form offers (the reporting service reads the same file).
    org_units: Path = DEFAULT_ORG_UNITS

    def refusal(self) -> str | None:
        """Why the portal must not start as configured, in an operator's words; None when it
        may."""
        if self.staff_file is None:
            return None if self.development else (
                "LEDERKONTAKT_STAFF_FILE is not set: a team lead could make anyone a course's "
                "psychologist. Set it (see the README, Configuration), or set "
                "LEDERKONTAKT_DEVELOPMENT=1 on a development machine.")
        try:
            directory = self.staff()
        except (OSError, ValueError) as exc:
            return f"the staff directory {self.staff_file} cannot be read: {exc}"
        assert directory is not None
        roles: tuple[tuple[ReferredPerson | None, StaffRole], ...] = (
            (self.intake_psychologist, "psychologist"), (self.intake_team_lead, "team_lead"))
        for named, role in roles:
            if named is not None and directory.find(named, role) is None:
                # Every referral from the portal would go to the referral service's DLQ.
                return (f"LEDERKONTAKT_PORTAL_INTAKE_{role.upper()} is not a {role} in the "
                        f"staff directory {self.staff_file}")
        return None

    def staff(self) -> StaffDirectory | None:
        if self.staff_file is None:
            return None
        with self.staff_file.open("rb") as f:
            return StaffDirectory.model_validate(tomllib.load(f))

    def choosable(self, directory: StaffDirectory | None) -> list[ReferredPerson]:
        """The psychologists a team lead can give a course: the directory's, or without one
        (development) the configured list."""
        if directory is None:
            return list(self.psychologists)
        return [m.as_referred() for m in directory.staff if "psychologist" in m.roles]
