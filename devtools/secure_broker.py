"""The local broker with authorization on: StandardAuthorizer, a SCRAM user per principal of
the access table on a SASL_SSL listener, and an SSL listener that takes client certificates
(whose CN is the principal). For trying the ACLs of `lederkontakt acls` and for the tests.

No listener lets a client in without credentials: the broker's own traffic (to its controller
and between brokers) goes over SSL with the broker's certificate, whose principal is the only
super user besides the admin; there is no PLAINTEXT listener and no anonymous super user.

`python -m devtools.secure_broker start` prints the bootstrap addresses and where the CA,
passwords and client certificates are; `stop` stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devtools import kafka_broker
from shared.access import PRINCIPALS as ACCESS_PRINCIPALS

ADMIN = "admin"
# The principal of the broker's own certificate, for its controller and inter-broker traffic.
BROKER = "broker"
PRINCIPALS = tuple(a.principal for a in ACCESS_PRINCIPALS)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SecureBroker:
    home: kafka_broker.BrokerHome
    sasl_bootstrap: str
    ssl_bootstrap: str
    folder: Path
    passwords: dict[str, str] = field(repr=False)

    @property
    def cafile(self) -> Path:
        return self.folder / "ca.pem"

    def client_cert(self, principal: str) -> tuple[Path, Path]:
        return self.folder / f"{principal}.pem", self.folder / f"{principal}.key"


def free_port_pair() -> int:
    """A port p with p + 1 also free (the controller listens on p + 1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_certificates(folder: Path) -> None:
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    server = ca.issue_cert("127.0.0.1", "localhost", common_name=BROKER)
    # Kafka's PEM key store wants the key as PKCS#8.
    key = serialization.load_pem_private_key(server.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    (folder / "server.pem").write_bytes(pkcs8 + b"".join(b.bytes() for b in server.cert_chain_pems))
    for principal in PRINCIPALS:
        cert = ca.issue_cert(f"{principal}.lederkontakt.local", common_name=principal)
        (folder / f"{principal}.pem").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(folder / f"{principal}.key"))


def prepare(root: Path, folder: Path, port: int | None = None) -> SecureBroker:
    """Certificates, passwords and the broker's configuration (not yet started)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_certificates(folder)
    passwords = {p: secrets.token_urlsafe(16) for p in (ADMIN, *PRINCIPALS)}
    (folder / "passwords.json").write_text(json.dumps(passwords, indent=1))
    os.chmod(folder / "passwords.json", 0o600)
    h = "127.0.0.1"
    port = port or free_port_pair()
    sasl, tls = _free_port(), _free_port()
    home = kafka_broker.BrokerHome(
        root=root, host=h, port=port,
        extra_config=(
            f"listeners=CONTROLLER://{h}:{port + 1},SASL_SSL://{h}:{sasl},SSL://{h}:{tls}",
            f"advertised.listeners=SASL_SSL://{h}:{sasl},SSL://{h}:{tls}",
            "listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL,SSL:SSL",
            "inter.broker.listener.name=SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={folder / 'server.pem'}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={folder / 'ca.pem'}",
            "listener.name.ssl.ssl.client.auth=required",
            "listener.name.controller.ssl.client.auth=required",
            "ssl.principal.mapping.rules=RULE:^CN=([^,]*).*$/$1/,DEFAULT",
            "ssl.enabled.protocols=TLSv1.2,TLSv1.3",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # Only the broker itself (its certificate) and the admin; never User:ANONYMOUS.
            f"super.users=User:{ADMIN};User:{BROKER}",
            "allow.everyone.if.no.acl.found=false",
            # Retention and compaction are checked every second, so short settings show.
            "log.retention.check.interval.ms=1000",
        ),
        format_args=tuple(arg for name, pw in passwords.items()
                          for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={pw}]")),
    )
    return SecureBroker(home, f"{h}:{sasl}", f"{h}:{tls}", folder, passwords)


def start(broker: SecureBroker, timeout: float = kafka_broker.READY_TIMEOUT_S) -> None:
    """Start from empty storage (the SCRAM users are written when it is formatted)."""
    home = broker.home
    kafka_broker.reset(home)
    kafka_broker.resolve_jars(home)
    kafka_broker.write_config(home)
    kafka_broker.format_storage(home)
    with home.log_file.open("ab") as log:
        proc = subprocess.Popen(kafka_broker._java_cmd(home, "kafka.Kafka", str(home.config_file)),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    home.pid_file.write_text(str(proc.pid))
    _wait_ready(broker, proc, timeout)


def _wait_ready(broker: SecureBroker, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Ready once the admin, over SASL_SSL, sees a broker (no listener answers without
    credentials)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = broker.home.log_file.read_text(errors="replace").splitlines()[-5:]
            raise kafka_broker.BrokerError("broker exited during start-up: " + " | ".join(tail))
        if asyncio.run(_admin_answers(broker)):
            return
        time.sleep(0.5)
    raise kafka_broker.BrokerError(f"broker did not answer on {broker.sasl_bootstrap} within "
                                   f"{timeout:.0f}s; see {broker.home.log_file}")


async def _admin_answers(broker: SecureBroker) -> bool:
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    from shared.settings import KafkaSettings

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = KafkaSettings(bootstrap_servers=broker.sasl_bootstrap, security_protocol="SASL_SSL",
                             sasl_mechanism="SCRAM-SHA-512", sasl_username=ADMIN,
                             sasl_password=broker.passwords[ADMIN],
                             ssl_cafile=str(broker.cafile))
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs(), request_timeout_ms=3000)
    try:
        await admin.start()
        return bool((await admin.describe_cluster()).get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secure_broker", description=__doc__)
    parser.add_argument("command", choices=["start", "stop"])
    args = parser.parse_args(argv)
    root = Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", REPO / ".cache" / "kafka"))
    folder = root / "secure"
    port = int(os.environ.get("LEDERKONTAKT_KAFKA_PORT", "9092")) + 50
    if args.command == "stop":
        kafka_broker.stop(kafka_broker.BrokerHome(root=root, host="127.0.0.1", port=port))
        return 0
    broker = prepare(root, folder, port)
    start(broker)
    print(f"SASL_SSL {broker.sasl_bootstrap}  SSL {broker.ssl_bootstrap}  "
          f"(CA {broker.cafile}; passwords in {folder / 'passwords.json'}; "
          f"client certificates {folder}/<principal>.pem)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
