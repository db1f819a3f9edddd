"""The portal and a real OpenID Connect provider (`oidc-provider-mock`) as processes, with one
login per role: used by the browser tests and by the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from services.referral.domain.intake import person_id_for
from shared.events import ReferredPerson

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Login:
    """A user at the identity provider: its subject, and the claims the portal maps."""

    sub: str
    name: str
    email: str
    role: str
    person_id: str

    def claims(self) -> dict[str, object]:
        return {"sub": self.sub, "name": self.name, "email": self.email, "roles": [self.role],
                "person_id": self.person_id}

    def person(self) -> ReferredPerson:
        return ReferredPerson(person_id=self.person_id, name=self.name, email=self.email)


def _employee(sub: str, name: str, email: str) -> Login:
    # The intake derives an employee's id from their e-mail; the login carries the same id.
    return Login(sub, name, email, "employee",
                 person_id_for(ReferredPerson(name=name, email=email)))


LOGINS: tuple[Login, ...] = (
    Login("lars", "Lars Leder", "lars@example.org", "leader",
          person_id_for(ReferredPerson(name="Lars Leder", email="lars@example.org"))),
    _employee("anna", "Anna Ansat", "anna@example.org"),
    _employee("emil", "Emil Eriksen", "emil@example.org"),
    Login("pia", "Pia Psykolog", "pia@tidlig.dk", "psychologist", "psy-pia"),
    Login("karl", "Karl Kirk", "karl@tidlig.dk", "psychologist", "psy-karl"),
    Login("tove", "Tove Teamleder", "tove@tidlig.dk", "team_lead", "lead-tove"),
    Login("mona", "Mona Direktør", "mona@kommune.dk", "management", "mgmt-mona"),
)
BY_SUB = {login.sub: login for login in LOGINS}


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s")


def start_oidc_provider(port: int, logins: Sequence[Login] = LOGINS,
                        log: IO[bytes] | int | None = None) -> subprocess.Popen[bytes]:
    """`oidc-provider-mock` on 127.0.0.1:port with the given users predefined (its login page
    offers one button per user and a field for any subject)."""
    args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for login in logins:
        args += ["--user-claims", json.dumps(login.claims())]
    proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    _wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", proc,
               "the OIDC provider")
    return proc


def portal_env(port: int, issuer: str, kafka_env: dict[str, str]) -> dict[str, str]:
    staff = {s.sub: s.person().model_dump_json() for s in LOGINS
             if s.role in ("psychologist", "team_lead")}
    return {**os.environ, **kafka_env, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore",
            "LEDERKONTAKT_PORTAL_PORT": str(port),
            "LEDERKONTAKT_PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LEDERKONTAKT_PORTAL_OIDC_ISSUER": issuer,
            "LEDERKONTAKT_PORTAL_INTAKE_PSYCHOLOGIST": staff["pia"],
            "LEDERKONTAKT_PORTAL_INTAKE_TEAM_LEAD": staff["tove"],
            "LEDERKONTAKT_PORTAL_PSYCHOLOGISTS": f"[{staff['pia']},{staff['karl']}]"}


def start_portal(env: dict[str, str], log: IO[bytes] | int | None = None
                 ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "services.portal"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    _wait_http(f"http://127.0.0.1:{env['LEDERKONTAKT_PORTAL_PORT']}/healthz", proc, "the portal")
    return proc


def stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
