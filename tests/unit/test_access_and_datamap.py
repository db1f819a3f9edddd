"""The access table is what the services really do, the ACLs follow from it, and the checked-in
data map matches the code."""

from __future__ import annotations

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


def test_contact_details_and_health_fields_are_found_where_they_are() -> None:
    assert "employee.email" in topic_fields("referrals")["contact"]
    assert "sick_leave" in topic_fields("referrals")["health"]
    assert "person.phone" in topic_fields("people")["contact"]
    # The reports' facts keep whether a course is stress-related and began on sick leave, by
    # course id only: the anonymous figures are counted from them.
    assert "stress_related" in topic_fields("reporting.course-facts")["health"]
    for spec in SPECS:
        if spec.name not in ("referrals", "people"):
            assert not topic_fields(spec.name)["contact"], spec.name
        if spec.name not in ("referrals", "reporting.referral-facts", "reporting.course-facts"):
            assert not topic_fields(spec.name)["health"], spec.name


def test_every_topic_carrying_contact_details_has_personal_retention() -> None:
    for spec in SPECS:
        if topic_fields(spec.name)["contact"] and spec.cleanup == "delete":
            assert spec.personal, spec.name


def test_the_checked_in_data_map_matches_the_code() -> None:
    assert not write(check=True), "run `lederkontakt datamap --write` and commit docs/datamap.md"


def test_topics_kept_for_good_say_so_in_the_data_map() -> None:
    from services.ops.datamap import render

    rows = {line.split("|")[1].strip(): line for line in render().splitlines()
            if line.startswith("| `")}
    assert "kept for good" in rows["`courses`"] and "-0.001" not in render()
