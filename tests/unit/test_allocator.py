"""The allocator settings the package gives itself on import (arrears.allocator)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from arrears.allocator import ENV_VAR, POLARS_MALLOC_CONF, configure


def test_configure_sets_the_value_when_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert configure() == POLARS_MALLOC_CONF
    assert os.environ[ENV_VAR] == POLARS_MALLOC_CONF


def test_configure_keeps_a_value_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "dirty_decay_ms:1000")
    assert configure() == "dirty_decay_ms:1000"
    assert os.environ[ENV_VAR] == "dirty_decay_ms:1000"


def _conf_after(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_importing_arrears_first_puts_the_setting_last_where_polars_reads_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    show = "import os, polars; print(os.environ.get('_RJEM_MALLOC_CONF'))"
    # Polars puts its own settings first and a value found in the environment after them (it wins).
    assert _conf_after("import arrears; " + show, env).endswith("," + POLARS_MALLOC_CONF)
    assert POLARS_MALLOC_CONF not in _conf_after(show, env)  # polars alone: its own settings only
    assert _conf_after("import arrears; " + show, {**env, ENV_VAR: "dirty_decay_ms:1000"}).endswith(
        ",dirty_decay_ms:1000"
    )
