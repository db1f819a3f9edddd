"""The views of a process share their end-offset questions, and still each answer is one asked
after its question: a consent written while a request is on its way is in the answer of a
question asked after it was written."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from shared.views import EndOffsets

CONSENTS, PEOPLE = TopicPartition("consents", 0), TopicPartition("people", 0)


class HeldClient:
    """A client whose requests answer the log's end as it was when each was sent, once let go."""

    def __init__(self) -> None:
        self.end = 1
        self.gates: list[asyncio.Event] = []

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        at = self.end
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        return dict.fromkeys(tps, at)


def test_a_question_asked_while_a_request_is_on_its_way_waits_for_the_next_one() -> None:
    async def scenario() -> tuple[dict[TopicPartition, int], ...]:
        ends = EndOffsets({})
        client = HeldClient()
        ends._client = client  # type: ignore[assignment]
        first = asyncio.create_task(ends.of([CONSENTS]))
        together = asyncio.create_task(ends.of([PEOPLE]))
        await asyncio.sleep(0.01)
        assert len(client.gates) == 1  # two questions, one request
        client.end = 2  # a consent written now, after that request went
        later = asyncio.create_task(ends.of([CONSENTS]))
        await asyncio.sleep(0.01)
        client.gates[0].set()
        answers = (await first, await together)
        await asyncio.sleep(0.01)
        assert len(client.gates) == 2
        client.gates[1].set()
        return (*answers, await later)

    first, together, later = asyncio.run(scenario())
    assert first == {CONSENTS: 1} and together == {PEOPLE: 1}
    assert later == {CONSENTS: 2}
