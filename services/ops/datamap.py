"""`lederkontakt datamap`: per topic, the personal and health fields it carries, how long it
keeps them and who reads and writes it; derived from the event schemas, the topic registry and
the access table, so it cannot drift from the code. docs/datamap.md is its checked-in output."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from services.contact_scheduler.domain.plan import CoursePlan
from services.notifier.domain.ledger import LedgerEntry
from services.ops.readme_block import write_block
from services.referral.domain.intake import IntakeRecord
from services.reporting.domain.facts import CourseFacts, ReferralFacts
from services.reporting.domain.report import Report
from shared.access import readers_and_writers
from shared.catalogue import events_on
from shared.events import PersonErased
from shared.events.people import ContactDetails
from shared.open_points import OpenPoints
from shared.topics import SPECS, RetentionSettings, Topics

DOC = Path(__file__).resolve().parents[2] / "docs" / "datamap.md"

CONTACT_FIELDS = frozenset({"name", "email", "phone"})
HEALTH_FIELDS = frozenset({"reason_category", "sick_leave", "sick_leave_since", "stress_related",
                           "sick_leave_at_referral"})
# Not health data themselves, but telling of it: a return-to-work plan says the employee has
# been away, most often on sick leave.
HEALTH_ADJACENT_FIELDS = frozenset({"plan_kind", "return_to_work_plan"})
PERSON_ID_FIELDS = frozenset({"person_id", "employee_id", "leader_id", "psychologist_id",
                              "team_lead_id", "recipient_id", "about_employee_id"})

# What the topics that carry no events hold: the state records of the services' tables.
STATE_RECORDS: dict[str, tuple[type[BaseModel], ...]] = {
    "referral.dedup-changelog": (IntakeRecord,),
    "contact-scheduler.state-changelog": (CoursePlan,),
    "notifier.ledger": (LedgerEntry,),
    "contact-points.open": (OpenPoints,),
    "reporting.referral-facts": (ReferralFacts,),
    "reporting.course-facts": (CourseFacts,),
    "reports": (Report,),
    "erasures": (PersonErased,),
}


def topic_models(base: str) -> tuple[type[BaseModel], ...]:
    """The event types the catalogue puts on a topic, or the state records it holds."""
    return events_on(base) + STATE_RECORDS.get(base, ())


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, dict, list, tuple):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def classify(model: type[BaseModel], prefix: str = "") -> dict[str, set[str]]:
    """Dotted field paths of a model by kind: contact details, health, keyed person ids."""
    found: dict[str, set[str]] = {"contact": set(), "health": set(), "adjacent": set(),
                                  "ids": set()}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if issubclass(model, ContactDetails) and name in CONTACT_FIELDS:
            found["contact"].add(path)
        elif name in HEALTH_FIELDS:
            found["health"].add(path)
        elif name in HEALTH_ADJACENT_FIELDS:
            found["adjacent"].add(path)
        elif name in PERSON_ID_FIELDS:
            found["ids"].add(path)
        for nested in _models(info.annotation):
            for kind, paths in classify(nested, f"{path}.").items():
                found[kind] |= paths
    return found


def topic_fields(base: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"contact": set(), "health": set(), "adjacent": set(),
                                  "ids": set()}
    for model in topic_models(base):
        for kind, paths in classify(model).items():
            found[kind] |= paths
    return found


def _duration(ms: int) -> str:
    hours = ms / 3_600_000
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} d"
    return f"{hours:g} h" if hours >= 1 else f"{ms / 1000:g} s"


# Compacted topics whose writer adds a record to every partition each eighth of the bound
# (`shared.retention.roll_segments`), so their segments close whether or not anything happens.
ROLLED = {"people": "referral", "reporting.course-facts": "reporting"}


def _retention(configs: dict[str, str], base: str = "") -> str:
    if configs["cleanup.policy"] == "compact":
        segment, lag = int(configs["segment.ms"]), int(configs["max.compaction.lag.ms"])
        if base in ROLLED:
            return (f"compacted; a replaced or tombstoned value is cleaned within "
                    f"{_duration(2 * segment + lag)} while the {ROLLED[base]} "
                    "service runs (it closes the segments)")
        return (f"compacted; a replaced or tombstoned value is cleaned {_duration(lag)} after "
                f"its segment closes (at the first record {_duration(segment)} after the "
                "segment opened)")
    if int(configs["retention.ms"]) < 0:
        return "kept for good (ids and states only: the course's lifetime record)"
    return (f"{_duration(int(configs['retention.ms']))} (segments close after "
            f"{_duration(int(configs['segment.ms']))})")


def _header(r: RetentionSettings) -> list[str]:
    return [
        "# Data map",
        "",
        "Generated by `lederkontakt datamap --write` from the event schemas, the topic registry",
        "and the access table (`shared/access.py`); CI fails when it no longer matches the code.",
        f"Retention shown for the defaults (erasure bound {_duration(r.erasure_bound_ms)}, "
        "`LEDERKONTAKT_RETENTION_*`).",
        "Person ids are keyed (HMAC with `LEDERKONTAKT_PERSON_ID_KEY`): pseudonymous, not",
        "computable from an e-mail without the key.",
        "Fields marked *(health-adjacent)* are not health data themselves but tell of it: a",
        "return-to-work plan says the employee has been away, most often on sick leave. The",
        "portal gives a plan its kind as its id, so the kind is also in plan ids and the contact",
        "points' ids (`plan_review:return_to_work`) on the topics that carry those.",
        "",
        "| topic | contact details | health | person ids | retention | written by | read by |",
        "|---|---|---|---|---|---|---|",
    ]


def render(retention: RetentionSettings | None = None) -> str:
    r = retention or RetentionSettings()
    specs = {s.name: s for s in Topics().all_specs(r)}
    lines = _header(r)

    def cell(paths: set[str], adjacent: set[str] | None = None) -> str:
        return ", ".join([*(f"`{p}`" for p in sorted(paths)),
                          *(f"`{p}` *(health-adjacent)*" for p in sorted(adjacent or ()))]) \
            or "–"

    for spec in SPECS:
        fields = topic_fields(spec.name)
        readers, writers = readers_and_writers(spec.name)
        health = cell(fields["health"], fields["adjacent"])
        lines.append(f"| `{spec.name}` | {cell(fields['contact'])} | {health} "
                     f"| {cell(fields['ids'])} | {_retention(specs[spec.name].configs(), spec.name)} "
                     f"| {', '.join(writers) or '–'} "
                     f"| {', '.join(readers) or '–'} |")
        if spec.has_dlq:
            dlq = f"{spec.name}.dlq"
            _, dlq_writers = readers_and_writers(dlq)
            lines.append(f"| `{dlq}` | raw bytes of `{spec.name}`: all of the above, or "
                         f"anything malformed | as `{spec.name}` | as `{spec.name}` "
                         f"| {_retention(specs[dlq].configs())} | {', '.join(dlq_writers) or '–'} "
                         "| operators (`dlq list/replay`) |")
    lines.append("")
    return "\n".join(lines)


README_BEGIN = "<!-- generated by `lederkontakt datamap --write`: docs/datamap.md's table -->"
README_END = "<!-- end of the generated data map -->"


def readme_block(text: str) -> str:
    """The data map's table, as the README carries it."""
    table = [line for line in text.splitlines() if line.startswith("|")]
    return "\n".join([README_BEGIN, "", *table, "", README_END])


def write(check: bool = False) -> bool:
    """Write docs/datamap.md and its table into the README, or with `check` say whether either
    is out of date."""
    text = render()
    block = readme_block(text)
    if check:
        return not DOC.exists() or DOC.read_text() != text \
            or write_block(README_BEGIN, README_END, block, check=True)
    DOC.write_text(text)
    write_block(README_BEGIN, README_END, block)
    return False
