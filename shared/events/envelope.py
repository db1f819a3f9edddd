from __future__ import annotations

from typing import Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.fields import Id

SCHEMA_VERSION: Literal[1] = 1


class Event(BaseModel):
    """The envelope every event carries; subclasses add `type` and their payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(default_factory=uuid4)
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: AwareDatetime
    course_id: Id | None = None
    correlation_id: Id = Field(default_factory=lambda: str(uuid4()))

    @property
    def key(self) -> str | None:
        """The Kafka key: everything about one course lands in one partition, in order."""
        return self.course_id
