"""Which agreement and which consent sharing personal data with another processor needs.

Pure rules: a jurisdiction and a purpose in, the requirement out (with the provision it comes from).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from arrears.errors import ValidationError

__all__ = ["AgreementKind", "SharePurpose", "SharingRequirement", "requirement"]


class SharePurpose(StrEnum):
    PLACEMENT = "placement"  # an agency collects on our behalf
    SALE = "sale"  # the debt (and the data) go to another controller


class AgreementKind(StrEnum):
    ENTRUSTED_PROCESSING = "entrusted_processing"  # PIPL art. 21
    PROVISION = "provision"  # PIPL art. 23
    PROCESSOR_CONTRACT = "processor_contract"  # GDPR art. 28; US service-provider contract
    DATA_SHARING = "data_sharing"  # controller-to-controller sharing agreement


@dataclass(frozen=True)
class SharingRequirement:
    agreement: AgreementKind
    needs_consent: bool
    cite: str


_EEA_UK: Final = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "GB",
        "UK",
    ]
)

_RULES: Final = {
    ("CN", SharePurpose.PLACEMENT): SharingRequirement(
        AgreementKind.ENTRUSTED_PROCESSING,
        False,
        "PIPL art. 21: entrusted processing needs a written agreement",
    ),
    ("CN", SharePurpose.SALE): SharingRequirement(
        AgreementKind.PROVISION, True, "PIPL art. 23: provision to another processor needs separate consent"
    ),
    ("EU", SharePurpose.PLACEMENT): SharingRequirement(
        AgreementKind.PROCESSOR_CONTRACT, False, "GDPR art. 28(3): processing by a processor under a contract"
    ),
    ("EU", SharePurpose.SALE): SharingRequirement(
        AgreementKind.DATA_SHARING,
        False,
        "GDPR art. 6(1)(f) and art. 14: documented controller-to-controller sharing",
    ),
    ("US", SharePurpose.PLACEMENT): SharingRequirement(
        AgreementKind.PROCESSOR_CONTRACT, False, "GLBA 16 CFR 314.4(f): service-provider contract"
    ),
    ("US", SharePurpose.SALE): SharingRequirement(
        AgreementKind.DATA_SHARING, False, "12 CFR 1006.30(b); a written sale agreement"
    ),
}


def _region(jurisdiction: str) -> str | None:
    code = jurisdiction.strip().upper()
    if code.startswith("CN"):
        return "CN"
    if code.startswith("US"):
        return "US"
    if code[:2] in _EEA_UK or code == "EU":
        return "EU"
    return None


def requirement(jurisdiction: str, purpose: SharePurpose | str) -> SharingRequirement:
    """What sharing a debtor's data under ``jurisdiction`` for ``purpose`` needs.

    A jurisdiction without a known rule raises :class:`ValidationError`: nothing is shared by default.
    """
    region = _region(jurisdiction)
    if region is None:
        raise ValidationError(
            f"no data-sharing rule is known for jurisdiction {jurisdiction!r}; nothing is shared",
            field="jurisdiction",
        )
    return _RULES[(region, SharePurpose(purpose))]
