from services.asyncapi import document, write
from shared.catalogue import SERVICES, events_on


def test_the_checked_in_asyncapi_documents_match_the_code() -> None:
    assert write(check=True) == [], "run `lederkontakt asyncapi` and commit docs/asyncapi/"


def test_every_consumed_channel_documents_the_events_that_belong_on_its_topic() -> None:
    for service in SERVICES:
        doc = document(service)
        schemas = doc["components"]["schemas"]
        assert "EmptyPayload" not in schemas
        received = [op for op in doc["operations"].values() if op["action"] == "receive"]
        assert received
        for operation in received:
            channel = doc["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
            [ref] = channel["messages"].values()
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
            documented = {r["$ref"].rsplit("/", 1)[1] for r in payload["anyOf"]}
            assert documented == {cls.__name__ for cls in events_on(channel["address"])}
