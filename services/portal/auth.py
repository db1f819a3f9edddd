"""OpenID Connect login (authorization code flow, authlib) and who the person is.

The role and the person id come from ID-token claims, named and mapped by configuration, so
the portal follows the identity provider's vocabulary instead of imposing its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth
from fastapi import Request

from services.portal.config import PortalSettings, Role


@dataclass(frozen=True)
class Identity:
    person_id: str
    roles: frozenset[Role]
    name: str
    email: str | None

    def as_session(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "roles": sorted(self.roles), "name": self.name,
                "email": self.email}

    @classmethod
    def from_session(cls, data: Any) -> Identity | None:
        if not isinstance(data, dict) or not data.get("person_id"):
            return None
        return cls(str(data["person_id"]), frozenset(data.get("roles", [])),
                   str(data.get("name", "")), data.get("email"))


def identity_from_claims(claims: dict[str, Any], settings: PortalSettings) -> Identity | None:
    """The portal's identity for these claims, or None when they give no person id or no role
    the portal knows."""
    raw = claims.get(settings.role_claim, [])
    names = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    roles = frozenset(settings.role_map[n] for n in names if n in settings.role_map)
    person_id = claims.get(settings.person_id_claim)
    if not roles or not isinstance(person_id, str) or not person_id:
        return None
    name = claims.get("name") or person_id
    email = claims.get("email")
    return Identity(person_id, roles, str(name), email if isinstance(email, str) else None)


def current_identity(request: Request) -> Identity | None:
    return Identity.from_session(request.session.get("user"))


def make_oauth(settings: PortalSettings) -> OAuth:
    oauth = OAuth()
    oauth.register(
        "idp",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scope},
    )
    return oauth
