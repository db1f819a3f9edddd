"""The `lederkontakt` command: topics, the local broker, erasure."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import ValidationError

from shared.catalogue import SERVICES
from shared.logging import configure_logging, redact_text
from shared.settings import KafkaSettings
from shared.topics import ReplicationError, Topics, create_topics, reconcile_topics


def _topics_create(_: argparse.Namespace) -> int:
    settings = KafkaSettings()
    try:
        created = asyncio.run(create_topics(settings.aiokafka_kwargs(),
                                            Topics(settings.topic_prefix),
                                            settings.replication_factor))
    except ReplicationError as exc:
        print(f"lederkontakt: {exc}", file=sys.stderr)
        return 1
    total = len(Topics(settings.topic_prefix).all_specs())
    print(f"{len(created)} topics created, {total - len(created)} already existed")
    differences = asyncio.run(reconcile_topics(settings.aiokafka_kwargs(),
                                               Topics(settings.topic_prefix), alter=True))
    for difference in differences:
        print(f"altered {difference}")
    return 0


def _topics_check(_: argparse.Namespace) -> int:
    settings = KafkaSettings()
    differences = asyncio.run(reconcile_topics(settings.aiokafka_kwargs(),
                                               Topics(settings.topic_prefix), alter=False))
    for difference in differences:
        print(difference)
    print("topic settings match the registry" if not differences
          else f"{len(differences)} setting(s) differ; `lederkontakt topics create` sets them")
    return 1 if differences else 0


def _kafka(args: argparse.Namespace) -> int:
    from devtools import kafka_broker

    return kafka_broker.main([args.action, *(["--nodes", str(args.nodes)] if args.nodes else [])])


def _people_erase(args: argparse.Namespace) -> int:
    from services.ops.erasure import erase

    settings = KafkaSettings()
    erasure = asyncio.run(erase(settings, args.person_id))
    for course_id in erasure.courses_closed:
        print(f"course {course_id} closed (person_erased)")
    print(f"erasure of {args.person_id} published")
    return 0


def _tail(args: argparse.Namespace) -> int:
    from services.ops.tail import run

    return run(args.topics, args.service, args.course, args.type or [], args.from_beginning)


def _ops_page(args: argparse.Namespace) -> int:
    from services.ops.page import serve
    from shared.clock import clock_from_env

    try:
        asyncio.run(serve(KafkaSettings(), clock_from_env(), args.port, args.host))
    except KeyboardInterrupt:
        pass
    return 0


def _asyncapi(args: argparse.Namespace) -> int:
    from services.asyncapi import DOCS, write

    stale = write(check=args.check)
    if stale:
        print(f"AsyncAPI documents out of date: {', '.join(stale)}; run `lederkontakt asyncapi`",
              file=sys.stderr)
        return 1
    print(f"AsyncAPI documents {'match the code' if args.check else 'written to'} {DOCS}")
    return 0


def _dlq(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.ops.dlq import ReplayRefused, read_dlq, replay_checked

    settings = KafkaSettings()
    if args.action == "list":
        for letter in asyncio.run(read_dlq(settings, args.topic)):
            print(f"{letter.offset:6} {letter.reason}")
        return 0
    try:
        outcome = asyncio.run(replay_checked(
            settings, args.topic, args.offset or [],
            Path(args.value_file).read_bytes() if args.value_file else None))
    except ReplayRefused as exc:
        print(f"lederkontakt: {exc}", file=sys.stderr)
        return 2
    for offset, reason in outcome.refused:
        print(f"{offset:6} not replayed: {reason}")
    print(f"{len(outcome.replayed)} message(s) re-published to {args.topic}")
    return 1 if outcome.refused else 0


def _datamap(args: argparse.Namespace) -> int:
    from services.ops.datamap import DOC, render, write

    if args.check:
        if write(check=True):
            print(f"{DOC} is out of date; run `lederkontakt datamap --write`", file=sys.stderr)
            return 1
        print(f"{DOC} matches the code")
        return 0
    if args.write:
        write()
        print(f"data map written to {DOC}")
        return 0
    print(render())
    return 0


def _access_table(args: argparse.Namespace) -> int:
    from services.ops.access_table import README, render, write

    if args.check:
        if write(check=True):
            print(f"the access table in {README} is out of date; run "
                  "`lederkontakt acls table --write`", file=sys.stderr)
            return 1
        print(f"the access table in {README} matches the code")
        return 0
    if args.write:
        write()
        print(f"access table written to {README}")
        return 0
    print(render())
    return 0


def _acls(args: argparse.Namespace) -> int:
    from shared.access import all_acls

    if args.action == "table":
        return _access_table(args)
    settings = KafkaSettings()
    acls = all_acls(Topics(settings.topic_prefix))
    if args.action == "print":
        for acl in acls:
            print(acl)
        return 0
    from services.ops.acls import apply_acls

    changes = asyncio.run(apply_acls(settings.aiokafka_kwargs(), acls, settings.topic_prefix))
    for entry in changes.revoked:
        print(f"revoked {entry}")
    print(f"{changes.applied} ACL entries applied, {len(changes.revoked)} revoked")
    return 0


def _report(args: argparse.Namespace) -> int:
    from services.reporting.cli import run

    return run(args.period, args.format, args.team_lead)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lederkontakt")
    sub = parser.add_subparsers(dest="command", required=True)

    topics = sub.add_parser("topics", help="manage the topic set").add_subparsers(
        dest="action", required=True)
    topics.add_parser("create", help="create every missing topic and align the settings of "
                      "existing ones with the registry").set_defaults(func=_topics_create)
    topics.add_parser("check", help="print how existing topics' settings differ from the "
                      "registry").set_defaults(func=_topics_check)

    kafka = sub.add_parser("kafka", help="the local broker or cluster")
    kafka.add_argument("action", choices=["start", "stop", "status", "reset"])
    kafka.add_argument("--nodes", type=int, help="nodes of the local cluster")
    kafka.set_defaults(func=_kafka)

    _add_people(sub)

    tail = sub.add_parser("tail", help="watch the event streams, one line an event")
    tail.add_argument("topics", nargs="*", help="topics (default: all but referrals, people and the DLQs)")
    tail.add_argument("--course", help="only this course id")
    tail.add_argument("--type", action="append", help="only event types starting with this")
    tail.add_argument("--service", choices=SERVICES,
                      help="only what this service publishes")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    tail.set_defaults(func=_tail)

    page = sub.add_parser("ops-page", help="serve the operations page over HTTP")
    page.add_argument("--port", type=int, default=8088)
    page.add_argument("--host", default="127.0.0.1")
    page.set_defaults(func=_ops_page)

    spec = sub.add_parser("asyncapi", help="write the services' AsyncAPI documents")
    spec.add_argument("--check", action="store_true", help="fail if they do not match the code")
    spec.set_defaults(func=_asyncapi)

    dlq = sub.add_parser("dlq", help="list or re-publish a topic's dead letters")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", help="the input topic, e.g. referrals")
    dlq.add_argument("--offset", type=int, action="append", help="only these DLQ offsets")
    dlq.add_argument("--value-file", help="replay one message with this file's bytes instead")
    dlq.set_defaults(func=_dlq)

    _add_data_protection(sub)
    return parser


def _add_people(sub: Any) -> None:
    people = sub.add_parser("people", help="people and their contact details").add_subparsers(
        dest="action", required=True)
    erase = people.add_parser("erase", help="publish the erasure of a person (the referral "
                                            "service then tombstones their details)")
    erase.add_argument("person_id")
    erase.set_defaults(func=_people_erase)
    find = people.add_parser("id", help="the keyed id the intake gives a person named by "
                             "e-mail or phone (needs LEDERKONTAKT_PERSON_ID_KEY)")
    handle = find.add_mutually_exclusive_group(required=True)
    handle.add_argument("--email")
    handle.add_argument("--phone")
    find.set_defaults(func=_people_id)


def _people_id(args: argparse.Namespace) -> int:
    """For a data-subject request: the id to erase or look for, from what the person gives.
    Only the deployment's key gives the id their records carry, so none is assumed."""
    from services.referral.config import ReferralSettings
    from services.referral.domain.intake import person_id_for
    from shared.events import ReferredPerson

    settings = ReferralSettings()
    if settings.uses_development_key:
        print("lederkontakt: a person's id needs LEDERKONTAKT_PERSON_ID_KEY, the referral "
              "service's key; without it the id would not be the one their records carry",
              file=sys.stderr)
        return 2
    # Validated as the intake validates it, so the same address gives the same id.
    person = ReferredPerson(name="-", email=args.email, phone=args.phone)
    print(person_id_for(person, settings.id_key))
    return 0


def _add_data_protection(sub: Any) -> None:
    """The commands about what the data is and who may touch it: reports, data map, ACLs."""
    report = sub.add_parser("report", help="print a period's report from the reports topic")
    report.add_argument("--period", required=True, help="2026-11, 2026-Q4 or 2026")
    report.add_argument("--format", choices=["json", "csv"], default="json",
                        help="csv opens in Danish Excel (semicolons, decimal commas)")
    report.add_argument("--team-lead", action="store_true",
                        help="the team lead's figures per psychologist instead")
    report.set_defaults(func=_report)

    datamap = sub.add_parser("datamap", help="per topic: personal and health fields, retention, "
                             "readers and writers")
    datamap.add_argument("--write", action="store_true", help="write docs/datamap.md")
    datamap.add_argument("--check", action="store_true",
                         help="fail if docs/datamap.md does not match the code")
    datamap.set_defaults(func=_datamap)

    acls = sub.add_parser("acls", help="the broker ACLs of each service's principal")
    acls.add_argument("action", choices=["print", "apply", "table"],
                      help="table: the README's Access table, in Markdown")
    acls.add_argument("--write", action="store_true", help="table: write it into README.md")
    acls.add_argument("--check", action="store_true",
                      help="table: fail if README.md's table does not match the code")
    acls.set_defaults(func=_acls)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KafkaError as exc:
        servers = KafkaSettings().bootstrap_servers
        print(f"lederkontakt: Kafka at {servers} did not answer: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # e.g. a person id that is not one
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"lederkontakt: {redact_text(problems)}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # unreadable files, bad arguments
        print(f"lederkontakt: {redact_text(str(exc) or repr(exc))}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
