"""The logging filter: personal data never reaches the formatted log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from arrears.privacy.logging import PersonalDataFilter, find_personal_data, install_redaction, redact


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    install_redaction([handler])
    logger = logging.getLogger("arrears.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_redact_masks_each_kind() -> None:
    text = (
        "debtor 110105194912311234 phone 13800000001 alt +86 139-0000-0002 "
        "uk +44 20 7946 0958 mail zhang.wei@example.com"
    )
    assert redact(text) == (
        "debtor 110***********1234 phone 138****0001 alt +86 139****0002 "
        "uk +44 ******0958 mail z***@example.com"
    )


def test_redact_leaves_ordinary_numbers_alone() -> None:
    text = "case 12345 paid 1380.00 CNY, batch 20240501, hash 3f1a2b3c4d5e6f7081920a1b2c3d4e5f"
    assert redact(text) == text
    assert find_personal_data(text) == []


def test_formatted_arguments_are_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("calling %s for %s", "13800000001", {"email": "li.na@example.cn"})
    assert stream.getvalue() == "INFO calling 138****0001 for {'email': 'l***@example.cn'}\n"


def test_exception_text_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("bad id 11010519491231002X")
    except ValueError:
        logger.exception("lookup failed for 13800000001")
    output = stream.getvalue()
    assert output.startswith("ERROR lookup failed for 138****0001\nTraceback")
    assert "ValueError: bad id 110***********002X" in output
    assert find_personal_data(output) == []


def test_filter_never_drops_records_and_survives_bad_format_strings() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%d items for %s", ("many", "13800000001"), None
    )
    assert PersonalDataFilter().filter(record) is True
    assert record.getMessage() == "%d items for %s"


def test_find_personal_data_for_log_scans() -> None:
    assert find_personal_data("to 13800000001 and a@b.cn, id 11010519491231002X") == [
        ("email", "a@b.cn"),
        ("national_id", "11010519491231002X"),
        ("phone", "13800000001"),
    ]
    assert find_personal_data(redact("to 13800000001 and a@b.cn, id 11010519491231002X")) == []


def test_install_is_idempotent_and_defaults_to_root_handlers() -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_redaction()
        install_redaction()
        assert sum(isinstance(f, PersonalDataFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)
