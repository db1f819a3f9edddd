from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict


class ContactPolicy(BaseModel):
    """When each contact point falls due and when to remind and escalate; data, not code."""

    model_config = ConfigDict(frozen=True)

    start_call_working_days: int = 2
    end_contact_working_days: int = 5
    follow_up_working_days: int = 5
    three_party_meeting_working_days: int = 10
    reminder_time: time = time(8, 30)
    escalate_after_overdue_working_days: int = 2
    late_after_seconds: float = 60.0
