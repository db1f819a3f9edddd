"""How many mails the psychologist (Pia) and the team lead (Tove) get in the demo's story, with
each reminder on its own and with the morning digest: the demo played twice on the local broker.

    .venv/bin/python -m devtools.demo_mail_counts [--days 5]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from devtools import demo, kafka_broker
from devtools.smtp_sink import Mail
from shared.events.people import ReminderPreference

STAFF = {str(p.email): p.name for p in (demo.PSYCHOLOGIST, demo.TEAM_LEAD)}
CHOICES: tuple[tuple[str, ReminderPreference | None], ...] = (("each", "each"), ("digest", None))


def subjects(mails: list[Mail], address: str) -> Counter[str]:
    """Subjects of the mails to `address`; a digest's date is left out, so its mornings add up."""
    return Counter(m.subject[:-11] if m.subject.startswith(
        ("Dagens lederkontakter ", "Today's leader contacts ")) else m.subject
        for m in mails if m.to == address)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=3.0,
                        help="scaled days from the demo's Sunday noon (the demo plays 3)")
    args = parser.parse_args()
    home = kafka_broker.default_home()
    started = kafka_broker.running_pid(home) is None
    bootstrap = kafka_broker.start(home)
    try:
        runs = {label: demo.run(bootstrap=bootstrap, days=args.days, quiet=True,
                                reminders=reminders)[0]
                for label, reminders in CHOICES}
    finally:
        if started and not os.environ.get("LEDERKONTAKT_KEEP_BROKER"):
            kafka_broker.stop(home)
    print(f"Mails in the demo's story over {args.days:g} days from Sunday noon:")
    for address, name in STAFF.items():
        for label, mails in runs.items():
            counted = subjects(mails, address)
            detail = ", ".join(f"{subject} ×{n}" for subject, n in counted.most_common())
            print(f"  {name:15} {label:6} {sum(counted.values()):3}  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
