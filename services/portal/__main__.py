"""`python -m services.portal`: the portal under uvicorn, logging through our redacting setup."""

from __future__ import annotations

import uvicorn

from services.portal.app import create_app
from services.portal.config import PortalSettings
from shared.logging import configure_logging


def main() -> None:
    configure_logging()
    settings = PortalSettings()
    reason = settings.refusal()
    if reason is not None:
        raise SystemExit(f"portal: refusing to start: {reason}")
    # log_config=None: uvicorn's loggers go through the root handlers, which redact.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                proxy_headers=True, server_header=False)


if __name__ == "__main__":
    main()
