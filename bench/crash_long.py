"""The long crash run: the same fault test as CI's quick one, with more kills and courses.

    .venv/bin/python bench/crash_long.py [--kills 100] [--courses 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--courses", type=int, default=60)
    args = parser.parse_args()
    env = {**os.environ, "LEDERKONTAKT_FAULT_KILLS": str(args.kills),
           "LEDERKONTAKT_FAULT_COURSES": str(args.courses)}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:logging",
                            "tests/faults"], cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
