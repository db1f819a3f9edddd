"""`lederkontakt acls print|apply`: the broker ACLs derived from the access table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from shared.access import Acl

# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {"topic": 2, "group": 3}
_OPERATION = {"read": 3, "write": 4, "describe": 8}
_LITERAL, _ALLOW = 3, 3


async def apply_acls(kafka_kwargs: dict[str, Any], acls: Sequence[Acl]) -> int:
    """Create every entry (creating an existing one again is harmless); returns how many."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        for acl in acls:
            response = await admin._send_request(CreateAclsRequest(
                _RESOURCE[acl.resource_type], acl.name, _LITERAL, f"User:{acl.principal}", "*",
                _OPERATION[acl.operation], _ALLOW))
            for error_code, message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"could not create ACL {acl}: "
                                       f"{for_code(error_code).__name__} {message or ''}")
        return len(acls)
    finally:
        await admin.close()
