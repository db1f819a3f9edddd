"""The event catalogue is complete, and the README's tables say what it says."""

from __future__ import annotations

import itertools
import re
from fnmatch import fnmatch
from pathlib import Path

from services.ops.tail import topics_for, written_by
from shared.catalogue import INPUTS, ROUTES, SERVICES, event_types_on, published_by, topic_of
from shared.events import EVENT_TYPES
from shared.topics import SPECS, Topics
from tests.samples import one_of_each

README = Path(__file__).resolve().parents[2] / "README.md"
SPEC = {spec.name: spec for spec in SPECS}


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under a README heading, as lists of cells."""
    text = README.read_text().split(f"\n{heading}\n", 1)[1].split("\n\n## ", 1)[0]
    lines = list(itertools.takewhile(lambda line: line.startswith("|"),
                                     itertools.dropwhile(lambda line: not line.startswith("|"),
                                                         text.splitlines())))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_event_type_has_a_topic_that_exists() -> None:
    assert set(ROUTES) == set(EVENT_TYPES.values())
    for route in ROUTES.values():
        assert route.topic in SPEC
        assert set(route.published_by) <= set(SERVICES)


def test_every_event_is_routed_to_its_topic_with_the_prefix() -> None:
    topics = Topics("t-")
    for event in one_of_each():
        assert topics.for_event(event) == f"t-{topic_of(event)}"


def test_the_readme_topic_table_lists_every_topic_with_its_events_cleanup_and_dlq() -> None:
    rows = _table("## Topics")
    named: set[str] = set()
    for first, _key, cleanup, contents in rows:
        for pattern in [t for t in _ticked(first) if t != ".dlq"]:
            topics = [name for name in SPEC if fnmatch(name, pattern)]
            assert topics, f"README names {pattern}, which is no topic"
            named.update(topics)
            for topic in topics:
                assert SPEC[topic].cleanup == cleanup, topic
                assert ("(+ `.dlq`)" in first) == SPEC[topic].has_dlq, topic
                listed = [t for t in _ticked(contents) if t in EVENT_TYPES]
                assert sorted(listed) == sorted(event_types_on(topic)), topic
    assert named == set(SPEC)


def test_the_readme_service_table_lists_what_each_service_publishes() -> None:
    rows = {row[0]: row for row in _table("## The services")}
    names = {"referral": "referral", "contact scheduler": "contact-scheduler",
             "notifier": "notifier"}
    for title, service in names.items():
        _, _, consumes, publishes = rows[title]
        assert sorted(t for t in _ticked(publishes) if t in SPEC) == sorted(published_by(service))
        assert set(INPUTS[service]) <= set(_ticked(consumes))


def test_tail_by_service_shows_what_it_publishes_and_its_dead_letters() -> None:
    assert "notifications.requested" in topics_for([], "referral")  # the receipts
    assert "referrals.dlq" in written_by("referral")
    assert written_by("notifier") == ["notifications.status", "notifications.requested.dlq"]
    assert topics_for(["courses", "sessions.dlq"], "contact-scheduler") == ["sessions.dlq"]
