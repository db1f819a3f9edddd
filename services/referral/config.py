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
    # Development and tests only: the service may start without the key (ids under a public
    # key) and without the directory (staff taken as each referral names them).
    development: bool = False

    def refusal(self) -> str | None:
        """Why the service must not start as configured, in an operator's words; None when
        it may. Without the key anyone can compute a person's id from their e-mail; without
        the directory whoever writes a referral decides who the psychologist is."""
        missing = []
        if self.person_id_key is None or not self.person_id_key.get_secret_value():
            missing.append("LEDERKONTAKT_PERSON_ID_KEY is not set: person ids would use the "
                           "public development key, so anyone could compute a person's id "
                           "from their e-mail")
        if self.staff_file is None:
            missing.append("LEDERKONTAKT_STAFF_FILE is not set: psychologists and team leads "
                           "would be whoever a referral names")
        if not missing or self.development:
            return None
        return "; ".join(missing) + ". Set them (see the README, Configuration), or set " \
            "LEDERKONTAKT_DEVELOPMENT=1 on a development machine."

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
