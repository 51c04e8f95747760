"""Training and serving the Rasa assistant: the commands, in one place.

Rasa runs as `python -m rasa` from the project root so that the custom channel
(`bot.channels.portal`) and NLU component (`bot.nlu`) import from this tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

from bot.settings import PROJECT_ROOT, Settings

MODELS_DIR = PROJECT_ROOT / "models"
# What a model is built from: the pipeline, the domain, the data and the code of the
# custom NLU components (a model saved by older component code may not load in newer).
TRAINING_INPUTS = ("config.yml", "domain", "data", "bot/nlu")


def train_command(out: Path = MODELS_DIR, fixed_name: str = "assistant") -> List[str]:
    return [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain",
        "--data",
        "data",
        "--out",
        str(out),
        "--fixed-model-name",
        fixed_name,
    ]


def model_path(out: Path = MODELS_DIR, fixed_name: str = "assistant") -> Path:
    return out / f"{fixed_name}.tar.gz"


def model_is_stale(out: Path = MODELS_DIR, fixed_name: str = "assistant") -> bool:
    """True when no model exists or a training input changed after it was written."""
    model = model_path(out, fixed_name)
    if not model.exists():
        return True
    built = model.stat().st_mtime
    for name in TRAINING_INPUTS:
        path = PROJECT_ROOT / name
        files = [path] if path.is_file() else [*path.rglob("*.yml"), *path.rglob("*.py")]
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


def train(out: Path = MODELS_DIR, fixed_name: str = "assistant") -> int:
    """Train in a child process (Rasa prints its own progress)."""
    return subprocess.call(train_command(out, fixed_name), cwd=PROJECT_ROOT)


ENDPOINTS_FILE = PROJECT_ROOT / "var" / "endpoints.yml"


def endpoints_config(settings: Settings) -> Dict[str, Any]:
    """Rasa's endpoint configuration, derived from the settings (never written by hand).

    It names classes and addresses only: the stores read their own URLs (and any
    password) from the settings, so the file holds no secret.
    """
    lock_store: Dict[str, Any] = (
        {"type": "bot.chat.lock_store.SettingsRedisLockStore"}
        if settings.redis_url
        else {"type": "in_memory"}
    )
    return {
        "action_endpoint": {"url": settings.actions_url},
        "tracker_store": {"type": "bot.chat.tracker_store.PrivateSQLTrackerStore"},
        "lock_store": lock_store,
    }


def write_endpoints(settings: Settings, path: Path = ENDPOINTS_FILE) -> Path:
    """Write `endpoints_config(settings)` where `rasa run --endpoints` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated from the settings (bot/assistant.py) at every start; do not edit.\n"
    path.write_text(header + yaml.safe_dump(endpoints_config(settings), sort_keys=False))
    return path


def serve_command(settings: Settings, model: Path, endpoints: Path = ENDPOINTS_FILE) -> List[str]:
    return [
        sys.executable,
        "-m",
        "rasa",
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        "credentials.yml",
        "--interface",
        settings.host,
        "--port",
        str(settings.rasa_port),
        "--enable-api",
        "--auth-token",
        settings.rasa_api_token,
        "--cors",
        "*",
    ]


def actions_command(settings: Settings) -> List[str]:
    return [
        sys.executable,
        "-m",
        "rasa_sdk",
        "--actions",
        "actions",
        "--port",
        str(settings.actions_port),
    ]
