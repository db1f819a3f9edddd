"""SMS through a provider's HTTP API; GatewayAPI's REST API is the one implemented."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from services.notifier.adapters.provider import PermanentFailure, RateLimiter, TemporaryFailure


@dataclass(frozen=True)
class GatewayApiConfig:
    base_url: str = "https://gatewayapi.com"
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    sender: str = "TidligInds"
    timeout: float = 10.0
    per_second: float = 0.0


# The whole request was written and the answer did not come: the gateway may have taken it.
_ANSWER_LOST = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class GatewayApiSms:
    """POST /rest/mtsms with token auth and a JSON body; `userref` carries our reference."""

    def __init__(self, config: GatewayApiConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(base_url=config.base_url,
                                                   timeout=config.timeout)
        self._limiter = RateLimiter(config.per_second)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, msisdn: str, text: str, reference: str) -> str:
        body = {"sender": self.config.sender, "message": text,
                "recipients": [{"msisdn": int(msisdn.lstrip("+"))}], "userref": reference}
        await self._limiter.wait()
        try:
            auth = f"Token {self.config.token.get_secret_value()}"
            response = await self._client.post("/rest/mtsms", json=body,
                                               headers={"Authorization": auth})
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"SMS gateway unreachable: {type(exc).__name__}",
                                   maybe_delivered=isinstance(exc, _ANSWER_LOST)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"SMS gateway {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            raise PermanentFailure(f"SMS gateway {response.status_code}: {response.text[:200]}")
        try:
            ids = response.json()["ids"]
            return str(ids[0])
        except (ValueError, KeyError, IndexError, TypeError):
            raise PermanentFailure("SMS gateway answered without a message id") from None
