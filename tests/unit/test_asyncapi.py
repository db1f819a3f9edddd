from services.asyncapi import write


def test_the_checked_in_asyncapi_documents_match_the_code() -> None:
    assert write(check=True) == [], "run `lederkontakt asyncapi` and commit docs/asyncapi/"
