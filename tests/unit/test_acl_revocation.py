"""`acls apply` revokes what the access table no longer gives the table's principals, and
nothing else."""

from __future__ import annotations

from services.ops.acls import BrokerAcl, to_revoke
from shared.access import Acl, all_acls
from shared.topics import Topics

TABLE = all_acls(Topics("p-"))


def entry(principal: str, name: str, operation: int = 3, pattern: int = 3) -> BrokerAcl:
    return BrokerAcl(2, name, pattern, f"User:{principal}", "*", operation, 3)


def test_an_entry_the_table_no_longer_gives_is_revoked_and_printed_readably() -> None:
    dropped = entry("lederkontakt-notifier", "p-referrals")
    [revoked] = to_revoke([dropped], TABLE, "p-")
    assert revoked == dropped
    assert str(revoked).split() == ["User:lederkontakt-notifier", "read", "topic", "p-referrals"]


def test_what_the_table_gives_stays() -> None:
    on_broker = [BrokerAcl(2 if a.resource_type == "topic" else 3, a.name, 3,
                           f"User:{a.principal}", "*", {"read": 3, "write": 4}[a.operation], 3)
                 for a in TABLE]
    assert to_revoke(on_broker, TABLE, "p-") == []


def test_other_principals_and_other_prefixes_are_left_alone() -> None:
    on_broker = [entry("someone-else", "p-referrals"),
                 entry("lederkontakt-notifier", "staging-referrals")]
    assert to_revoke(on_broker, TABLE, "p-") == []


def test_an_entry_of_another_shape_for_a_table_principal_is_revoked() -> None:
    prefixed_all = entry("lederkontakt-portal", "p-", operation=2, pattern=4)
    assert to_revoke([prefixed_all], TABLE, "p-") == [prefixed_all]
    assert "operation 2" in str(prefixed_all)


def test_the_table_acl_type_is_what_the_revocation_compares() -> None:
    assert Acl("lederkontakt-notifier", "topic", "p-people", "read") in TABLE
