"""The stock bot the performance benchmark compares with: `rasa init --no-prompt`, untouched.

Built once into var/bench/stock-rasa/ (under var/, so never committed) and reused while the
cache key holds: the installed Rasa's version and the contents of its `rasa init` template.
Served with `rasa run` on the REST channel only (a credentials.yml with `rest:` and nothing
else), no `--enable-api`, and the template's endpoints.yml, in which everything is commented
out: Rasa's defaults, an in-memory tracker store and lock store, and no action server (the
template's bot runs no custom action).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

from bot.settings import PROJECT_ROOT

STOCK_DIR = PROJECT_ROOT / "var" / "bench" / "stock-rasa"
CACHE_FILE = "bench-cache.json"
REST_ONLY = "rest:\n"
# Rasa asks nothing and sends nothing home while it is measured.
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def template_dir() -> Path:
    """The folder `rasa init` copies its project from, in the installed Rasa."""
    import rasa.cli.scaffold

    return Path(rasa.cli.scaffold.scaffold_path())


def cache_key(rasa_version: str, template: Path) -> str:
    """A digest of the Rasa version and every file of the init template (names and bytes)."""
    digest = hashlib.sha256(f"rasa {rasa_version}\n".encode())
    files = sorted(p for p in template.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(path.relative_to(template).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class StockBot:
    """A trained stock bot: where it is and what building it cost."""

    folder: Path
    model: Path
    key: str
    train_seconds: float
    model_bytes: int
    built: str  # UTC, ISO 8601
    from_cache: bool = False

    def serve_command(self, port: int) -> List[str]:
        return [
            sys.executable,
            "-m",
            "rasa",
            "run",
            "--model",
            str(self.model),
            "--credentials",
            str(self.folder / "credentials-rest.yml"),
            "--endpoints",
            str(self.folder / "endpoints.yml"),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    @property
    def webhook(self) -> str:
        return "/webhooks/rest/webhook"


def environment() -> Dict[str, str]:
    return {**os.environ, **QUIET}


def cached(folder: Path = STOCK_DIR) -> Optional[StockBot]:
    """The bot built earlier in `folder` when its key is still the current one."""
    import rasa

    record = folder / CACHE_FILE
    if not record.exists():
        return None
    saved = json.loads(record.read_text())
    bot = StockBot(
        folder=folder,
        model=Path(saved["model"]),
        key=saved["key"],
        train_seconds=saved["train_seconds"],
        model_bytes=saved["model_bytes"],
        built=saved["built"],
        from_cache=True,
    )
    if bot.key != cache_key(rasa.__version__, template_dir()) or not bot.model.exists():
        return None
    return bot


def build(folder: Path = STOCK_DIR) -> StockBot:
    """`rasa init --no-prompt` in a fresh `folder`: it copies the template and trains once.

    Timed as a whole: the copy takes milliseconds, the rest is a training from scratch
    (a new folder has no training cache). Raises RuntimeError when Rasa fails.
    """
    import rasa

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log = folder / "init.log"
    started = time.monotonic()
    with open(log, "w") as out:
        code = subprocess.call(
            [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", "."],
            cwd=folder,
            env=environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seconds = time.monotonic() - started
    models = sorted((folder / "models").glob("*.tar.gz"))
    if code != 0 or not models:
        raise RuntimeError(f"rasa init failed ({code}):\n{log.read_text()[-3000:]}")
    (folder / "credentials-rest.yml").write_text(REST_ONLY)
    bot = StockBot(
        folder=folder,
        model=models[-1],
        key=cache_key(rasa.__version__, template_dir()),
        train_seconds=seconds,
        model_bytes=models[-1].stat().st_size,
        built=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    record = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(bot).items()}
    del record["folder"], record["from_cache"]
    (folder / CACHE_FILE).write_text(json.dumps(record, indent=2))
    return bot


def stock_bot(folder: Path = STOCK_DIR) -> StockBot:
    """The cached bot, or a new one when the cache is missing or its key changed."""
    return cached(folder) or build(folder)
