"""`lederkontakt acls print|apply`: the broker ACLs derived from the access table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from shared.access import Acl

# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {"topic": 2, "group": 3}
_OPERATION = {"read": 3, "write": 4, "describe": 8}
_ANY, _LITERAL, _ALLOW = 1, 3, 3


@dataclass(frozen=True)
class BrokerAcl:
    """An entry as the broker holds it, in its protocol codes."""

    resource_type: int
    name: str
    pattern_type: int
    principal: str  # "User:..."
    host: str
    operation: int
    permission: int

    def __str__(self) -> str:
        resource = {v: k for k, v in _RESOURCE.items()}.get(self.resource_type,
                                                            f"type {self.resource_type}")
        operation = {v: k for k, v in _OPERATION.items()}.get(self.operation,
                                                             f"operation {self.operation}")
        return f"{self.principal:39} {operation:8} {resource:5} {self.name}"


@dataclass
class AclChanges:
    applied: int = 0
    revoked: list[BrokerAcl] = field(default_factory=list)


def _wanted(acl: Acl) -> BrokerAcl:
    return BrokerAcl(_RESOURCE[acl.resource_type], acl.name, _LITERAL, f"User:{acl.principal}",
                     "*", _OPERATION[acl.operation], _ALLOW)


def to_revoke(on_broker: Sequence[BrokerAcl], acls: Sequence[Acl],
              prefix: str) -> list[BrokerAcl]:
    """Entries of the table's principals on this deployment's topics and groups (by prefix)
    that the table no longer gives: tightening the table must tighten the broker too. Other
    principals' entries, and those on another prefix's resources, are left alone."""
    wanted = {_wanted(acl) for acl in acls}
    principals = {w.principal for w in wanted}
    return sorted((entry for entry in on_broker
                   if entry.principal in principals and entry.name.startswith(prefix)
                   and entry not in wanted), key=str)


async def _on_broker(admin: AIOKafkaAdminClient) -> list[BrokerAcl]:
    response = await admin._send_request(DescribeAclsRequest(
        _ANY, None, _ANY, None, None, _ANY, _ANY))
    if response.error_code:
        raise RuntimeError(f"could not list ACLs: {for_code(response.error_code).__name__} "
                           f"{response.error_message or ''}")
    return [BrokerAcl(resource_type, name, pattern, principal, host, operation, permission)
            for resource_type, name, pattern, entries, *_ in response.resources
            for principal, host, operation, permission, *_ in entries]


async def _create(admin: AIOKafkaAdminClient, acl: Acl) -> None:
    response = await admin._send_request(CreateAclsRequest(
        _RESOURCE[acl.resource_type], acl.name, _LITERAL, f"User:{acl.principal}", "*",
        _OPERATION[acl.operation], _ALLOW))
    for error_code, message in response.creation_responses:
        if error_code:
            raise RuntimeError(f"could not create ACL {acl}: "
                               f"{for_code(error_code).__name__} {message or ''}")


async def _delete(admin: AIOKafkaAdminClient, entry: BrokerAcl) -> None:
    response = await admin._send_request(DeleteAclsRequest(
        entry.resource_type, entry.name, entry.pattern_type, entry.principal, entry.host,
        entry.operation, entry.permission))
    for error_code, message, *_ in response.filter_responses:
        if error_code:
            raise RuntimeError(f"could not revoke ACL {entry}: "
                               f"{for_code(error_code).__name__} {message or ''}")


async def apply_acls(kafka_kwargs: dict[str, Any], acls: Sequence[Acl],
                     prefix: str = "") -> AclChanges:
    """Create every entry of the table (creating an existing one again is harmless), then
    revoke what the table's principals hold beyond it (see `to_revoke`)."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        for acl in acls:
            await _create(admin, acl)
        changes = AclChanges(applied=len(acls))
        changes.revoked = to_revoke(await _on_broker(admin), acls, prefix)
        for entry in changes.revoked:
            await _delete(admin, entry)
        return changes
    finally:
        await admin.close()
