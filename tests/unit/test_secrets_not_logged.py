import structlog

from services.notifier.config import NotifierSettings
from shared.logging import configure_logging
from shared.settings import KafkaSettings


def test_passwords_and_tokens_never_appear_in_logs(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LEDERKONTAKT_SASL_PASSWORD", "kafka-hunter2")
    monkeypatch.setenv("LEDERKONTAKT_NOTIFIER_SMTP_PASSWORD", "smtp-hunter2")
    monkeypatch.setenv("LEDERKONTAKT_NOTIFIER_SMS_TOKEN", "sms-hunter2")
    configure_logging(json=True)
    kafka, notifier = KafkaSettings(security_protocol="SASL_PLAINTEXT"), NotifierSettings()
    log = structlog.get_logger("t")
    log.info("starting", kafka=kafka, notifier=notifier, settings=repr(kafka))
    log.info("settings", **kafka.model_dump(), **notifier.model_dump())
    try:
        raise RuntimeError(f"cannot connect with {kafka}")
    except RuntimeError:
        log.exception("failed")
    out = capsys.readouterr()
    for secret in ("kafka-hunter2", "smtp-hunter2", "sms-hunter2"):
        assert secret not in out.err + out.out
    assert kafka.aiokafka_kwargs()["sasl_plain_password"] == "kafka-hunter2"
    configure_logging(json=False)
