"""The retention policy file: the built-in rules, prefix matching, and errors that name the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.errors import ConfigurationError, ValidationError
from arrears.privacy.retention import BUILTIN_POLICY, load_policy
from arrears.privacy.sharing import AgreementKind, requirement


def test_builtin_rules() -> None:
    policy = load_policy()
    assert policy.rule("call_recording", "CN").years == 2
    assert policy.rule("call_recording", "US-NY").years == 3
    assert policy.rule("call_recording", "US").cite.startswith("12 CFR 1006.100(b)")
    assert policy.rule("contact_log", "FR").years == 3
    assert policy.rule("debtor_record", "GB").years == 6
    assert policy.rule("debtor_record", "CN-11").years == 3


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_local_policy_cannot_go_below_the_regulatory_floor(tmp_path: Path) -> None:
    text = BUILTIN_POLICY.read_text(encoding="utf-8").replace(
        'CN: {years: 2, cite: "信用卡业务监督管理办法 第六十八条: collection records kept at least 2 years"}',
        "CN: {years: 1, cite: x}",
    )
    with pytest.raises(ConfigurationError, match=r"call_recording.rules.CN: below the 2 years"):
        load_policy(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "needs a record_types mapping"),
        ("record_types: {}", "call_recording: missing, or without rules"),
        (
            "record_types:\n  call_recording: {rules: {'*': {years: 0}}}",
            r"call_recording.rules.\*: years must",
        ),
    ],
)
def test_errors_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_policy(_write(tmp_path, text))


def test_sharing_requirements() -> None:
    cn_sale = requirement("CN", "sale")
    assert (cn_sale.agreement, cn_sale.needs_consent) == (AgreementKind.PROVISION, True)
    assert requirement("CN-31", "placement").agreement is AgreementKind.ENTRUSTED_PROCESSING
    assert requirement("DE", "placement").agreement is AgreementKind.PROCESSOR_CONTRACT
    assert requirement("US-NY", "sale") == requirement("US", "sale")
    with pytest.raises(ValidationError, match="no data-sharing rule"):
        requirement("ZZ", "sale")
