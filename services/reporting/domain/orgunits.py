"""Organisation units and the administration each belongs to, read from a configuration file.

A unit that is not in the file (free text on a referral) is reported as "other", under the
administration "other"."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass

OTHER = "other"


@dataclass(frozen=True)
class Administration:
    name: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class OrgUnits:
    administrations: tuple[Administration, ...]

    @classmethod
    def from_toml(cls, text: str) -> OrgUnits:
        data = tomllib.loads(text)
        admins: list[Administration] = []
        seen: set[str] = set()
        for entry in data.get("administration", []):
            name = _clean(str(entry["name"]))
            units = tuple(_clean(str(u)) for u in entry.get("units", []))
            for unit in units:
                if unit.casefold() in seen or unit.casefold() == OTHER:
                    raise ValueError(f"organisation unit {unit!r} is named twice (or 'other')")
                seen.add(unit.casefold())
            admins.append(Administration(name, units))
        return cls(tuple(admins))

    @property
    def units(self) -> list[str]:
        """Every configured unit, in the file's order: the referral form's choices."""
        return [u for a in self.administrations for u in a.units]

    def lookup(self) -> dict[str, str]:
        """Typed unit (case-folded) to the configured unit's name."""
        return {u.casefold(): u for u in self.units}

    def administration_of(self, unit: str) -> str:
        for admin in self.administrations:
            if unit in admin.units:
                return admin.name
        return OTHER

    def rows(self) -> list[tuple[str, tuple[str, ...]]]:
        """Administrations with their units, "other" last (it gathers what no unit matched)."""
        return [(a.name, a.units) for a in self.administrations] + [(OTHER, (OTHER,))]


def _clean(text: str) -> str:
    value = unicodedata.normalize("NFC", text).strip()
    if not value:
        raise ValueError("an organisation unit's name is empty")
    return value
