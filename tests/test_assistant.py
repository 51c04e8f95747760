"""`make run` retrains exactly when the model is older than what it is built from."""

from __future__ import annotations

import os
import time

from bot import assistant


def test_a_missing_model_is_stale(tmp_path):
    assert assistant.model_is_stale(tmp_path, "none")


def test_a_model_newer_than_every_input_is_fresh(tmp_path):
    model = assistant.model_path(tmp_path, "m")
    model.write_bytes(b"model")
    future = time.time() + 3600
    os.utime(model, (future, future))
    assert not assistant.model_is_stale(tmp_path, "m")


def test_changing_a_custom_nlu_component_makes_the_model_stale(tmp_path, monkeypatch):
    """The components' code is a training input: an older model may not load in newer code."""
    project = tmp_path / "project"
    for name in ("config.yml", "domain/account.yml", "data/nlu/en/chitchat.yml"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("version: '3.1'\n")
    component = project / "bot" / "nlu" / "entity_joiner.py"
    component.parent.mkdir(parents=True)
    component.write_text("# component\n")
    monkeypatch.setattr(assistant, "PROJECT_ROOT", project)
    model = assistant.model_path(tmp_path, "m")
    model.write_bytes(b"model")
    now = time.time()
    for path in project.rglob("*.*"):
        os.utime(path, (now - 60, now - 60))
    os.utime(model, (now - 30, now - 30))
    assert not assistant.model_is_stale(tmp_path, "m")
    os.utime(component, (now, now))
    assert assistant.model_is_stale(tmp_path, "m")
