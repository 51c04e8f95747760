"""One typed settings object, read from the environment (and .env) at entry points.

Nothing else in the project reads `os.environ`. Outside local runs the settings
refuse to load with a missing or well-known secret.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
PLACEHOLDER_SECRETS = {"", "change-me", "secret", "changeme"}
SECRET_NAMES = ("TOKEN_SECRET", "DOWNLOAD_SECRET", "RASA_API_TOKEN")


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    environment: str
    token_secret: str
    download_secret: str
    database_url: str
    host: str
    services_port: int
    services_url: str
    token_ttl_minutes: int
    download_ttl_minutes: int
    rasa_port: int
    actions_port: int
    rasa_api_token: str

    @property
    def production(self) -> bool:
        return self.environment == "production"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def load_settings(
    environ: Optional[Mapping[str, str]] = None, env_file: Optional[Path] = DEFAULT_ENV_FILE
) -> Settings:
    """Merge `.env` (if present) under the process environment and validate.

    Args:
        environ: the environment to read; defaults to `os.environ`.
        env_file: a dotenv file whose values apply where `environ` is silent.
    Raises:
        SettingsError: a value is malformed, or production runs with a default secret.
    """
    merged = {}
    if env_file is not None and env_file.exists():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)

    environment = merged.get("APP_ENV", "local")
    if environment not in {"local", "test", "production"}:
        raise SettingsError(f"APP_ENV must be local, test or production, not {environment!r}")
    for name in SECRET_NAMES:
        if merged.get(name, "") in PLACEHOLDER_SECRETS:
            if environment == "production":
                raise SettingsError(f"{name} must be set to a real secret in production")
            if len(merged.get(name, "")) == 0:
                raise SettingsError(f"{name} is not set; run `make env` to create .env")

    host = merged.get("HOST", "127.0.0.1")
    port = _int(merged, "SERVICES_PORT", 8000)
    default_db = f"sqlite:///{PROJECT_ROOT / 'var' / 'premier.db'}"
    return Settings(
        environment=environment,
        token_secret=merged["TOKEN_SECRET"],
        download_secret=merged["DOWNLOAD_SECRET"],
        database_url=merged.get("DATABASE_URL") or default_db,
        host=host,
        services_port=port,
        services_url=merged.get("SERVICES_URL") or f"http://{host}:{port}",
        token_ttl_minutes=_int(merged, "TOKEN_TTL_MINUTES", 60),
        download_ttl_minutes=_int(merged, "DOWNLOAD_TTL_MINUTES", 15),
        rasa_port=_int(merged, "RASA_PORT", 5005),
        actions_port=_int(merged, "ACTIONS_PORT", 5055),
        rasa_api_token=merged["RASA_API_TOKEN"],
    )


def write_env_file(path: Path = DEFAULT_ENV_FILE) -> bool:
    """Create `path` from .env.example with fresh secrets; never overwrite a value.

    An existing file only gains the secrets it lacks (a newer version of the
    project may need more of them).

    Returns:
        True when anything was written, False when the file was already complete.
    """
    if path.exists():
        present = dotenv_values(path)
        missing = [name for name in SECRET_NAMES if not present.get(name)]
        if not missing:
            return False
        with open(path, "a", encoding="utf-8") as handle:
            for name in missing:
                handle.write(f"{name}={secrets.token_urlsafe(32)}\n")
        return True
    template = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    lines = []
    for line in template.splitlines():
        name = line.split("=", 1)[0].strip()
        if name in SECRET_NAMES:
            line = f"{name}={secrets.token_urlsafe(32)}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return True
