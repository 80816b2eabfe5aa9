"""Loading the case policy: the packaged defaults, or a file given by the operator."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from arrears.domain.cases.policy import CasePolicy, policy_from_mapping
from arrears.errors import ConfigurationError

__all__ = ["default_policy", "load_policy"]


def _parse(text: str, source: str) -> CasePolicy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigurationError(f"{source}:{where} is not valid YAML", source=source) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: expected a mapping at the top level", source=source)
    return policy_from_mapping(data, source=source)


def load_policy(path: Path) -> CasePolicy:
    """Read and validate a policy file; nothing is used if any field is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read case policy {path}: {exc.strerror}", source=str(path)
        ) from None
    return _parse(text, path.name)


@lru_cache(maxsize=1)
def default_policy() -> CasePolicy:
    """The policy shipped with arrears (``arrears/cases/policy.yaml``)."""
    text = resources.files("arrears.cases").joinpath("policy.yaml").read_text(encoding="utf-8")
    return _parse(text, "policy.yaml")
