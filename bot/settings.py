"""One typed settings object, read from the environment (and .env) at entry points.

Nothing else in the project reads `os.environ`. Outside local runs the settings
refuse to load with a missing or well-known secret.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, List, Mapping, Optional, TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
PLACEHOLDER_SECRETS = {"", "change-me", "secret", "changeme"}
SECRET_NAMES = ("DOWNLOAD_SECRET", "RASA_API_TOKEN", "CHAT_SECRET", "ACTIONS_SECRET")
KEYS_DIR = PROJECT_ROOT / "var" / "keys"
# The most a request's line and headers may take on any of our servers (Sanic's own default),
# and the most a chat message's HTTP body may (a message is at most 2,000 characters).
MAX_HEADER_BYTES = 8 * 1024
MAX_CHAT_BODY_BYTES = 64 * 1024
# Rate limits in requests a minute (bot.ratelimit), by setting name.
RATE_DEFAULTS = (
    ("CHAT_RATE_PER_PERSON", 60),
    ("CHAT_RATE_PER_ADDRESS", 60),
    ("SERVICES_RATE_PER_PERSON", 600),
    ("SERVICES_RATE_PER_ADDRESS", 300),
)
K = TypeVar("K")
DEFAULT_PRIVATE_KEY = KEYS_DIR / "token-signing.pem"
DEFAULT_PUBLIC_KEY = KEYS_DIR / "token-signing.pub.pem"


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    """Every address, store and secret of every part; `load_settings()` builds it."""

    environment: str
    download_secret: str
    database_url: str
    host: str
    services_port: int
    services_url: str
    token_ttl_minutes: int
    # A session (a sign-in and every token renewed or switched from it) ends this long after it.
    session_max_hours: int
    download_ttl_minutes: int
    rasa_port: int
    actions_port: int
    actions_url: str
    rasa_api_token: str
    chat_secret: str
    # The action server binds here (loopback unless told otherwise) and answers only calls
    # that carry `actions_secret`, which only the Rasa server is given.
    actions_host: str
    actions_secret: str
    # The one origin (the portal page) the Rasa server allows cross-origin calls from.
    portal_origin: str
    # Conversations (Rasa's tracker store): SQLite beside the account data by default.
    tracker_store_url: str
    # Redis for Rasa's lock store and the chat layer's push across replicas; None: in-process.
    redis_url: Optional[str]
    # The services alone read the private key; every other part reads only the public one.
    token_private_key_file: Path
    token_public_key_file: Path
    # Requests a minute (bot.ratelimit): per signed-in person and per address of anyone else,
    # for the chat endpoints (messages) and for the account services (calls).
    chat_rate_person: int
    chat_rate_address: int
    services_rate_person: int
    services_rate_address: int

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def session_max(self) -> dt.timedelta:
        """How long a session lasts from its sign-in, renewals and switches included."""
        return dt.timedelta(hours=self.session_max_hours)

    def token_signing_key(self) -> Ed25519PrivateKey:
        """The private key: for the account services (and their demo token command) only."""
        return _load_private_key(str(self.token_private_key_file))

    def token_verification_key(self) -> Ed25519PublicKey:
        """The public key every part verifies tokens with."""
        return _load_public_key(str(self.token_public_key_file))


def _read_key(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SettingsError(
            f"{name} points to {path}, which does not exist; run `make env` to create the key pair"
        ) from None


@lru_cache(maxsize=4)
def _load_private_key(path: str) -> Ed25519PrivateKey:
    from bot.tokens import load_private_key

    return _load_key(path, "TOKEN_PRIVATE_KEY_FILE", load_private_key)


@lru_cache(maxsize=4)
def _load_public_key(path: str) -> Ed25519PublicKey:
    from bot.tokens import load_public_key

    return _load_key(path, "TOKEN_PUBLIC_KEY_FILE", load_public_key)


def _load_key(path: str, name: str, load: Callable[[bytes], K]) -> K:
    try:
        return load(_read_key(path, name))
    except ValueError as exc:
        raise SettingsError(f"{name} ({path}): {exc}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _rate(env: Mapping[str, str], name: str, default: int, problems: List[str]) -> int:
    """A rate limit in requests a minute (at least 1)."""
    value = _int(env, name, default)
    if value < 1:
        problems.append(f"{name} must be at least 1 (requests a minute)")
    return value


def _is_origin(value: str) -> bool:
    """An exact origin: http(s)://host[:port] and nothing else (CORS compares it verbatim)."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
        and not any(c in value for c in "*?\\[]^$()|+ ")
    )


def _reachable(bind_host: str) -> str:
    """The address to call a server bound to `bind_host` at (all interfaces: loopback)."""
    return "127.0.0.1" if bind_host in {"0.0.0.0", "::", ""} else bind_host


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
    production = environment == "production"
    problems: List[str] = []
    for name in SECRET_NAMES:
        if merged.get(name, "") in PLACEHOLDER_SECRETS:
            if production:
                problems.append(f"{name} must be set to a real secret")
            elif not merged.get(name):
                raise SettingsError(f"{name} is not set; run `make env` to create .env")

    host = merged.get("HOST", "127.0.0.1")
    port = _int(merged, "SERVICES_PORT", 8000)
    actions_host = merged.get("ACTIONS_HOST") or "127.0.0.1"
    actions_port = _int(merged, "ACTIONS_PORT", 5055)
    portal_origin = (merged.get("PORTAL_ORIGIN") or "http://127.0.0.1:8080").rstrip("/")
    if not _is_origin(portal_origin):
        problems.append(
            "PORTAL_ORIGIN must be one origin, scheme://host[:port] (no path, no wildcard), "
            f"not {portal_origin!r}"
        )
    var = PROJECT_ROOT / "var"
    database_url = merged.get("DATABASE_URL") or ""
    tracker_store_url = merged.get("TRACKER_STORE_URL") or ""
    redis_url = merged.get("REDIS_URL") or None
    session_max_hours = _int(merged, "SESSION_MAX_HOURS", 12)
    if session_max_hours < 1:
        problems.append("SESSION_MAX_HOURS must be at least 1")
    if production:
        for name, value in (
            ("DATABASE_URL", database_url),
            ("TRACKER_STORE_URL", tracker_store_url),
        ):
            if not value.startswith("postgresql"):
                problems.append(
                    f"{name} must name a PostgreSQL database (postgresql+psycopg2://...)"
                )
        if not redis_url:
            problems.append("REDIS_URL must be set (Rasa's lock store and push across replicas)")
        for name in ("TOKEN_PRIVATE_KEY_FILE", "TOKEN_PUBLIC_KEY_FILE"):
            if not merged.get(name):
                problems.append(f"{name} must name the token key file (no default in production)")
    if redis_url and not redis_url.startswith(("redis://", "rediss://")):
        problems.append("REDIS_URL must start with redis:// or rediss://")
    rates = {name: _rate(merged, name, default, problems) for name, default in RATE_DEFAULTS}
    if problems:
        raise SettingsError("incomplete configuration: " + "; ".join(problems))
    return Settings(
        environment=environment,
        download_secret=merged["DOWNLOAD_SECRET"],
        database_url=database_url or f"sqlite:///{var / 'premier.db'}",
        host=host,
        services_port=port,
        services_url=merged.get("SERVICES_URL") or f"http://{host}:{port}",
        token_ttl_minutes=_int(merged, "TOKEN_TTL_MINUTES", 60),
        session_max_hours=session_max_hours,
        download_ttl_minutes=_int(merged, "DOWNLOAD_TTL_MINUTES", 15),
        rasa_port=_int(merged, "RASA_PORT", 5005),
        actions_port=actions_port,
        actions_url=merged.get("ACTIONS_URL")
        or f"http://{_reachable(actions_host)}:{actions_port}/webhook",
        rasa_api_token=merged["RASA_API_TOKEN"],
        chat_secret=merged["CHAT_SECRET"],
        actions_host=actions_host,
        actions_secret=merged["ACTIONS_SECRET"],
        portal_origin=portal_origin,
        tracker_store_url=tracker_store_url or f"sqlite:///{var / 'tracker.db'}",
        redis_url=redis_url,
        token_private_key_file=Path(merged.get("TOKEN_PRIVATE_KEY_FILE") or DEFAULT_PRIVATE_KEY),
        token_public_key_file=Path(merged.get("TOKEN_PUBLIC_KEY_FILE") or DEFAULT_PUBLIC_KEY),
        chat_rate_person=rates["CHAT_RATE_PER_PERSON"],
        chat_rate_address=rates["CHAT_RATE_PER_ADDRESS"],
        services_rate_person=rates["SERVICES_RATE_PER_PERSON"],
        services_rate_address=rates["SERVICES_RATE_PER_ADDRESS"],
    )


def write_key_pair(private_file: Path, public_file: Path) -> bool:
    """Create the token key pair if it is missing (private key readable by the owner only).

    Returns:
        True when a pair was written, False when both files already exist.
    """
    if private_file.exists() and public_file.exists():
        return False
    from bot.tokens import generate_key_pair

    private_pem, public_pem = generate_key_pair()
    private_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(private_pem)
    public_file.write_text(public_pem, encoding="ascii")
    return True


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
