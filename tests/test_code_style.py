"""The code passes its own linters, so `make lint` and `make typecheck` never rot between runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "bot", "actions", "bench"],
    ],
    ids=["ruff-lint", "ruff-format", "mypy"],
)
def test_the_code_passes(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
