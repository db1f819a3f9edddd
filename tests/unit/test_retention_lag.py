"""A consumer of a topic with short retention says how close it is to losing records: the age
of what it reads as a share of the topic's retention, and a warning past half of it."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from shared.ops import RETENTION_USED, observe_retention
from shared.topics import RetentionSettings

REFERRALS_RETENTION_MS = RetentionSettings().personal_ms


@dataclass
class Record:
    topic: str
    timestamp: int


def _used(service: str, topic: str) -> float:
    return float(RETENTION_USED.labels(service, topic)._value.get())


def test_reading_referrals_older_than_half_their_retention_warns_and_sets_the_gauge() -> None:
    now = 1_800_000_000.0
    age_ms = int(REFERRALS_RETENTION_MS * 0.75)
    with structlog.testing.capture_logs() as logs:
        observe_retention("reporting", Record("t1-referrals", int(now * 1000) - age_ms), now)
    assert abs(_used("reporting", "t1-referrals") - 0.75) < 0.01
    [warning] = [e for e in logs if e["event"] == "consumer_lag_near_retention"]
    assert warning["log_level"] == "warning" and warning["topic"] == "t1-referrals"
    assert warning["retention_s"] == REFERRALS_RETENTION_MS // 1000


def test_fresh_records_and_topics_kept_for_good_do_not_warn() -> None:
    now = 1_800_000_000.0
    with structlog.testing.capture_logs() as logs:
        observe_retention("referral", Record("t2-referrals", int(now * 1000) - 1000), now)
        observe_retention("referral", Record("t2-courses", 1), now)
    assert logs == []
    assert _used("referral", "t2-referrals") < 0.01
