from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.referral.domain.intake import DEVELOPMENT_ID_KEY
from services.referral.domain.staff import StaffDirectory


class ReferralSettings(BaseSettings):
    """LEDERKONTAKT_* settings of the referral service."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_", extra="ignore")

    # The secret under which person ids are derived from e-mails; without it anyone could
    # compute a person's id from their address. Change it only with a fresh set of topics.
    person_id_key: SecretStr | None = None
    # A TOML file with `email_domains` and `[[staff]]` entries (id, name, email, phone, roles).
    staff_file: Path | None = None

    def staff(self) -> StaffDirectory | None:
        if self.staff_file is None:
            return None
        with self.staff_file.open("rb") as f:
            return StaffDirectory.model_validate(tomllib.load(f))

    @property
    def id_key(self) -> bytes:
        if self.person_id_key is None:
            return DEVELOPMENT_ID_KEY
        return self.person_id_key.get_secret_value().encode()

    @property
    def uses_development_key(self) -> bool:
        return self.person_id_key is None
