"""The cluster fault bench sets duplicates against what the documented send/ledger gap allows,
read from the notifiers' logs of the run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cluster_faults.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cluster_faults_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_gap_counts_kills_unknown_outcomes_and_sends_a_revocation_stopped_waiting_for(
        tmp_path: Path) -> None:
    lines = [{"event": "send_outcome_unknown", "notification_id": "a"},
             {"event": "notification", "notification_id": "b"},
             {"event": "state_drain_timed_out", "holders": 3},
             {"event": "send_outcome_unknown", "notification_id": "c"}]
    (tmp_path / "notifier-0.log").write_text(
        "\n".join(json.dumps(line) for line in lines[:2]) + "\nnot json\n")
    (tmp_path / "notifier-1.log").write_text("\n".join(json.dumps(line) for line in lines[2:]))
    (tmp_path / "referral-0.log").write_text(json.dumps(lines[0]))
    assert _bench().gap_terms(tmp_path, notifiers_killed=1) == {
        "kills": 16, "outcome_unknown": 2, "drain_timeouts": 3}
