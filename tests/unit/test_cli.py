from services.cli import main


def test_a_bad_person_id_is_one_clear_line_not_a_traceback(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["people", "erase", "not an id!"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lederkontakt: person_id:") and "Traceback" not in err


def test_a_missing_replacement_file_is_one_clear_line(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["dlq", "replay", "referrals", "--offset", "1", "--value-file", "/no/such"]) == 1
    assert "No such file" in capsys.readouterr().err
