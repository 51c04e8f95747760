"""`rasa test core` on the test stories: every capability's text reaches its action, in both
languages, and multi-turn routing (confirmations, side questions and cancel in forms) holds."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_every_test_story_passes(trained_model, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "test",
            "core",
            "--model",
            str(trained_model),
            "--stories",
            "tests/stories",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failed = tmp_path / "failed_test_stories.yml"
    report = json.loads((tmp_path / "story_report.json").read_text())
    failures = failed.read_text() if failed.exists() else ""
    assert "story:" not in failures, failures[:4000]
    assert report["conversation_accuracy"]["accuracy"] == 1.0, report["conversation_accuracy"]
