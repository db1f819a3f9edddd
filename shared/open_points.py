"""A course's open contact points, by id and date only: what the morning digest lists.

The scheduler writes one record per course on the compacted `contact-points.open` whenever the
course's open points change, and a tombstone once none is open (or once the course's plan is
swept, a while after it closed). The notifier reads the topic whole, as it reads `people` and
`consents`: a psychologist's courses lie in every partition, and a plan review months ahead
would have left the `contact-points` stream. The record names no one: who looks after the
course comes from its `consents` record."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.events import ContactKind


class OpenPoint(BaseModel):
    """A contact point that is not completed or cancelled; `blocked` when the scheduler holds
    it back for want of the employee's consent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    point_id: str
    kind: ContactKind
    due_from: date
    due_by: date
    blocked: bool = False


class OpenPoints(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    course_id: str
    points: tuple[OpenPoint, ...]
