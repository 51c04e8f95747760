"""Training and serving the Rasa assistant: the commands, in one place.

Rasa trains as `python -m rasa` and serves as `python -m bot assistant` (`serve`), both
from the project root so that the custom channel (`bot.channels.portal`) and NLU
components (`bot.nlu`) import from this tree. Serving goes through our entry point so
that the API token, the CORS origin and the action server's secret come from the
settings, never from a command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

from bot.observability import configure_logging
from bot.settings import MAX_CHAT_BODY_BYTES, MAX_HEADER_BYTES, PROJECT_ROOT, Settings

MODELS_DIR = PROJECT_ROOT / "models"
# What a model is built from: the pipeline, the domain, the data, the code of the
# custom NLU components (a model saved by older component code may not load in newer) and
# the pinned sentence-encoder weights (the intent ensemble was fitted on their embeddings).
TRAINING_INPUTS = ("config.yml", "domain", "data", "bot/nlu", "requirements-weights.txt")


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
    password) from the settings, and the action server's secret is added in the Rasa
    process (`available_endpoints`), so the file holds no secret.
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
    """The Rasa server's command line: paths only; secrets and CORS come from the settings."""
    return [
        sys.executable,
        "-m",
        "bot",
        "assistant",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
    ]


def actions_command(settings: Settings) -> List[str]:
    """The action server's command line (`bot/action_server.py`); it reads its secret itself."""
    return [sys.executable, "-m", "bot", "actions"]


def available_endpoints(settings: Settings, endpoints: Path = ENDPOINTS_FILE) -> Any:
    """Rasa's endpoints read from `endpoints`, with the action server's secret added.

    The secret is attached here, in the Rasa process, to the action endpoint's headers
    (`Authorization: Bearer <ACTIONS_SECRET>`, sent with every action call), rather than
    written to the file. Of the three ways to hand it over this is the only one that
    puts it nowhere but the settings: a value in the file (even owner-only) is one more
    copy on disk, and Rasa's `${ACTIONS_SECRET}` interpolation would need the secret
    exported into the environment of every process started after it, where `.env`
    alone holds it today. A plain `rasa run` on the same file sends no secret, and the
    action server refuses it: the setup fails closed.

    Returns:
        A `rasa.core.utils.AvailableEndpoints`.
    """
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    available = AvailableEndpoints.read_endpoints(str(endpoints))
    action = available.action or EndpointConfig(url=settings.actions_url)
    action.headers = {**action.headers, "Authorization": f"Bearer {settings.actions_secret}"}
    available.action = action
    return available


def serve(settings: Settings, model: Path, endpoints: Path = ENDPOINTS_FILE) -> None:
    """Run the Rasa server (`python -m bot assistant`) until stopped, as `rasa run` would.

    The HTTP API token and the one allowed CORS origin (the portal's) are read from the
    settings and handed to Rasa in-process, so neither is on a command line (where
    `ps` shows it to every local user). Logging, TensorFlow and telemetry are set up
    the way Rasa's own command line does before `rasa run`; ours (`LOG_FORMAT`,
    `bot.observability`) comes before and after it, and once more when the server starts,
    because Sanic installs its loggers' handlers only when Rasa creates the app.
    """
    configure_logging(settings, "rasa")  # first, so the warnings of Rasa's imports are lines too
    import rasa.core.run
    import rasa.telemetry
    import rasa.utils.io
    import rasa.utils.tensorflow.environment as tf_env
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(None, None, warn_only_once=True, filter_repeated_logs=True)
    tf_env.setup_tf_environment()
    tf_env.check_deterministic_ops()
    rasa.utils.io.configure_colored_logging(None)
    rasa.telemetry.initialize_telemetry()
    rasa.telemetry.initialize_error_reporting()
    configure_structlog(None)
    configure_logging(settings, "rasa")
    from bot.chat import action_responses, graph_order, incremental_states
    from bot.nlu import lean_loading

    lean_loading.install()  # the model is loaded for answering only: half the memory
    incremental_states.install()  # a message's cost no longer grows with the conversation
    action_responses.install()  # the action server's answers checked by one kept validator
    graph_order.install()  # the model's graph run in an order worked out once, not by dask

    async def keep_our_logging(*_: Any) -> None:
        configure_logging(settings, "rasa")

    # Sanic reads its limits from SANIC_* variables when Rasa creates the app: a chat body
    # over the bound is a 413 before anything parses it (Sanic's own default is 100 MB).
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(MAX_CHAT_BODY_BYTES)
    os.environ["SANIC_REQUEST_MAX_HEADER_SIZE"] = str(MAX_HEADER_BYTES)
    rasa.core.run.serve_application(
        str(model),
        credentials=str(PROJECT_ROOT / "credentials.yml"),
        interface=settings.host,
        port=settings.rasa_port,
        cors=[settings.portal_origin],
        auth_token=settings.rasa_api_token,
        enable_api=True,
        endpoints=available_endpoints(settings, endpoints),
        # Registered before Rasa loads the model, so the model's loading is logged our way.
        server_listeners=[(keep_our_logging, "before_server_start")],
    )
