from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Connection settings for every Kafka client, read from LEDERKONTAKT_* env vars."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "lederkontakt"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_prefix: str = ""
    # Copies of each topic; None: 3 when the cluster has at least three brokers, else 1.
    replication_factor: int | None = None

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments understood by AIOKafkaProducer, AIOKafkaConsumer and the admin client."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.security_protocol.endswith("SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            kwargs["ssl_context"] = context
        return kwargs
