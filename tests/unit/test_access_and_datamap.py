"""The access table is what the services really do, the ACLs follow from it, and the checked-in
data map matches the code."""

from __future__ import annotations

import re

from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from services.ops.datamap import topic_fields, write
from services.referral.app import ReferralService
from shared.access import ACCESS, Acl, acls_for, all_acls
from shared.clock import SystemClock
from shared.settings import KafkaSettings
from shared.topics import SPECS, Topics


def _subscribed(broker: object) -> set[str]:
    return {t for sub in broker.subscribers for t in sub.topic_names}  # type: ignore[attr-defined]


def test_every_topic_a_service_subscribes_to_is_in_its_reads() -> None:
    settings = KafkaSettings()
    services = {
        "referral": ReferralService(settings).broker,
        "contact-scheduler": SchedulerService(settings, SystemClock()).broker,
        "notifier": NotifierService(settings, NotifierSettings(), SystemClock()).broker,
    }
    for name, broker in services.items():
        assert _subscribed(broker) <= set(ACCESS[name].reads), name


def test_the_notifier_reads_requests_its_views_and_its_ledger_and_never_raw_intake() -> None:
    assert set(ACCESS["notifier"].reads) == {"notifications.requested", "people", "consents",
                                             "notifier.ledger", "erasures",
                                             "contact-points.open"}
    notifier = acls_for(ACCESS["notifier"], Topics("x-"))
    assert Acl("lederkontakt-notifier", "topic", "x-notifications.requested", "read") in notifier
    assert not any(a.name in ("x-referrals", "x-referrals.dlq", "x-courses", "x-sessions")
                   for a in notifier)
    assert not any(a.operation == "write" and a.name in ("x-people", "x-consents")
                   for a in notifier)


def test_every_topic_in_the_access_table_exists_and_only_the_referral_service_writes_people() -> None:
    names = {a.name for a in all_acls(Topics()) if a.resource_type == "topic"}
    known = {s.name for s in Topics().all_specs()}
    assert names <= known
    # Whoever may write `people` can redirect every message; `consents`, grant consent. The
    # operator's erasure goes on `erasures`, and the referral service writes the tombstone.
    for topic in ("people", "consents"):
        writers = {a.principal for a in all_acls(Topics())
                   if a.name == topic and a.operation == "write"}
        assert writers == {"lederkontakt-referral"}, topic


def test_the_everyday_operator_cannot_open_a_course_state_consent_or_ask_for_a_message() -> None:
    from shared.access import OPERATOR, REPLAY

    # `courses` only for the cancellations of `people erase`; replays have their own principal.
    assert set(OPERATOR.writes) == {"courses", "erasures"}
    assert not {"people", "consents"} & set(REPLAY.writes)
    assert "lederkontakt-replay" in {a.principal for a in all_acls(Topics())}


def test_contact_details_and_health_fields_are_found_where_they_are() -> None:
    assert "employee.email" in topic_fields("referrals")["contact"]
    assert "sick_leave" in topic_fields("referrals")["health"]
    assert "person.phone" in topic_fields("people")["contact"]
    # The reports' facts keep whether a course is stress-related and began on sick leave, by
    # course id only: the anonymous figures are counted from them.
    assert "stress_related" in topic_fields("reporting.course-facts")["health"]
    # A return-to-work plan tells of sick leave: its kind is marked health-adjacent.
    assert "plan_kind" in topic_fields("sessions")["adjacent"]
    assert "return_to_work_plan" in topic_fields("reporting.course-facts")["adjacent"]
    for spec in SPECS:
        if spec.name not in ("referrals", "people"):
            assert not topic_fields(spec.name)["contact"], spec.name
        if spec.name not in ("referrals", "reporting.referral-facts", "reporting.course-facts"):
            assert not topic_fields(spec.name)["health"], spec.name


def test_every_topic_carrying_contact_details_has_personal_retention() -> None:
    for spec in SPECS:
        if topic_fields(spec.name)["contact"] and spec.cleanup == "delete":
            assert spec.personal, spec.name


def test_the_checked_in_data_map_and_the_readmes_copy_match_the_code() -> None:
    assert not write(check=True), \
        "run `lederkontakt datamap --write` and commit docs/datamap.md and README.md"


def test_topics_kept_for_good_say_so_in_the_data_map() -> None:
    from services.ops.datamap import render

    rows = {line.split("|")[1].strip(): line for line in render().splitlines()
            if line.startswith("| `")}
    assert "kept for good" in rows["`courses`"] and "-0.001" not in render()


def test_the_readmes_access_table_says_what_acls_print_derives() -> None:
    from services.ops.access_table import README, write

    assert not write(check=True), "run `lederkontakt acls table --write` and commit README.md"
    # Read back from the README itself: per principal, the topics of each column and the
    # groups are exactly the entries `acls print` gives it.
    section = README.read_text().split("\n### Access\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
    table = {}
    for principal, reads, writes, groups in rows:
        table[principal.strip("| `")] = [
            set(re.findall(r"`([a-z.\-]+)`", re.sub(r"\([^()]*\)", "", c)))
            for c in (reads, writes, groups.rstrip(" |"))]
    derived: dict[str, list[set[str]]] = {}
    for acl in all_acls(Topics()):
        column = 2 if acl.resource_type == "group" else 0 if acl.operation == "read" else 1
        derived.setdefault(acl.principal, [set(), set(), set()])[column].add(acl.name)
    assert table == {p: derived.get(p, [set(), set(), set()]) for p in table}
    assert set(derived) <= set(table)


def test_raw_intake_and_dlqs_count_retention_from_when_the_broker_took_the_record() -> None:
    # A producer's own timestamp (one in the future, say) would otherwise decide when a
    # referral's details are deleted. The integration test of the topic settings checks that
    # the broker holds what the registry says.
    for spec in Topics().all_specs():
        personal_delete = spec.personal and spec.cleanup == "delete"
        stamped = spec.configs().get("message.timestamp.type") == "LogAppendTime"
        assert stamped == personal_delete, spec.name
    assert {s.name for s in Topics().all_specs() if s.personal and s.cleanup == "delete"} >= {
        "referrals", "referrals.dlq", "people.dlq", "reporting.referral-facts"}
