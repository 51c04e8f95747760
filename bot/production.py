"""`make run-prod`: the production layout on one machine, behind nginx.

The same code as `make run`, switched by settings to what a cluster runs (docs/deploy.md):
PostgreSQL for the account data and the conversations, Redis for Rasa's lock store and the
chat layer's push, two Rasa replicas, the account services and the action server with two
workers each, the portal and the Slack app, and nginx (Debian's package) as the only
address people use. Every part is supervised as in `make run` (bot/run.py): one that exits
is started again with backoff while the rest keep serving.

Before anything serves, the account database is migrated (Alembic) and Rasa's tracker
tables are created once, by the runner, so two replicas starting together do not race to
create them. Addresses default to the PostgreSQL and Redis on 127.0.0.1; set DATABASE_URL,
TRACKER_STORE_URL and REDIS_URL (environment or .env) to point elsewhere.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import assistant
from bot.run import Part, console, run_parts
from bot.settings import PROJECT_ROOT, Settings, load_settings

WORKERS = 2
# The one-machine layout's stores: this machine's PostgreSQL (trust authentication, as on the
# development machines) and Redis. Anything set in the environment or .env wins.
LOCAL_DEFAULTS = {
    "DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/premier",
    "TRACKER_STORE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/premier_conversations",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def production_environment(
    environ: Mapping[str, str], env_file: Optional[Path] = None
) -> Dict[str, str]:
    """The environment every part starts with: production mode, the stores, one address.

    The entry point's address is where browsers come (PORTAL_ORIGIN for CORS, CHAT_URL for
    the widget's socket, PUBLIC_URL for download links) and where the Slack app reaches
    Rasa (RASA_URL), so that its calls spread over the replicas too.
    """
    from dotenv import dotenv_values

    merged: Dict[str, str] = {}
    if env_file is not None and env_file.exists():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v})
    merged.update(environ)
    env = dict(environ)
    env["APP_ENV"] = "production"
    for name, value in LOCAL_DEFAULTS.items():
        if not merged.get(name) or merged[name].startswith("sqlite"):
            env[name] = value
    keys = PROJECT_ROOT / "var" / "keys"
    env.setdefault(
        "TOKEN_PRIVATE_KEY_FILE",
        merged.get("TOKEN_PRIVATE_KEY_FILE") or str(keys / "token-signing.pem"),
    )
    env.setdefault(
        "TOKEN_PUBLIC_KEY_FILE",
        merged.get("TOKEN_PUBLIC_KEY_FILE") or str(keys / "token-signing.pub.pem"),
    )
    port = merged.get("ENTRY_PORT") or "8090"
    entry = merged.get("PUBLIC_URL") or f"http://127.0.0.1:{port}"
    for name in ("PUBLIC_URL", "PORTAL_ORIGIN", "CHAT_URL", "RASA_URL"):
        env[name] = entry
    env.setdefault("LOG_FORMAT", "json")
    return env


def prepare_stores(settings: Settings, seed_demo: bool) -> None:
    """Create the databases if missing, migrate the account data, create the tracker tables."""
    from bot.chat.tracker_store import PrivateSQLTrackerStore
    from bot.services.db import create_engine as services_engine
    from bot.services.db import migrate
    from bot.services.seed import seed

    for url in (settings.database_url, settings.tracker_store_url):
        _create_database(url)
    migrate(settings.database_url)
    if seed_demo:
        engine = services_engine(settings.database_url)
        try:
            seed(engine)
        finally:
            engine.dispose()
    PrivateSQLTrackerStore(url=settings.tracker_store_url).engine.dispose()


def _create_database(url: str) -> None:
    """CREATE DATABASE when the server is there but the database is not (fresh machine)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
                console.print(f"created database {target.database}")
    finally:
        admin.dispose()


def nginx_dir(settings: Settings) -> Path:
    """nginx's own files (configuration, pid, logs, buffers), one folder per entry port."""
    return PROJECT_ROOT / "var" / f"nginx-{settings.entry_port}"


def replica_ports(settings: Settings) -> List[int]:
    """The Rasa replicas listen on RASA_PORT and the port after it."""
    return [settings.rasa_port, settings.rasa_port + 1]


def nginx_config(settings: Settings, rasa_ports: List[int]) -> str:
    """nginx's configuration: one address, each path to its part.

    Only the chat endpoints of Rasa are reachable (never its HTTP API). The widget's and the
    console's sockets are hashed by client address, so Socket.IO's long-polling requests of
    one client reach the replica that holds its session; a websocket holds one connection
    anyway. When a replica fails, nginx moves its clients to the other one, where the
    conversation goes on from the shared tracker store. Plain chat requests go round-robin.
    Every request gets an `X-Request-ID` (the caller's, or nginx's own) that the parts log.
    """
    var = nginx_dir(settings)
    replicas = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in rasa_ports
    )
    slack = (
        f"""
        location /slack/ {{
            proxy_pass http://127.0.0.1:{settings.slack_port};
        }}"""
        if settings.slack_configured and not settings.slack_app_token
        else ""
    )
    return f"""# Generated by `make run-prod` (bot/production.py) at every start; do not edit.
worker_processes 2;
pid {var}/nginx.pid;
error_log {var}/error.log warn;
events {{
    worker_connections 2048;
}}
http {{
    client_body_temp_path {var}/tmp/body;
    proxy_temp_path {var}/tmp/proxy;
    fastcgi_temp_path {var}/tmp/fastcgi;
    uwsgi_temp_path {var}/tmp/uwsgi;
    scgi_temp_path {var}/tmp/scgi;
    map $http_x_request_id $premier_request_id {{
        "~^[A-Za-z0-9._-]{{8,64}}$" $http_x_request_id;
        default $request_id;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" close;
    }}
    log_format premier escape=json '{{"time":"$time_iso8601","part":"nginx",'
        '"request_id":"$premier_request_id","method":"$request_method","path":"$uri",'
        '"status":$status,"ms":$request_time,"upstream":"$upstream_addr"}}';
    access_log {var}/access.log premier;
    server_tokens off;
    client_max_body_size 64k;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header X-Request-ID $premier_request_id;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_connect_timeout 2s;
    # The parts answer with the id they were sent; nginx's own header is the one kept.
    proxy_hide_header X-Request-ID;
    add_header X-Request-ID $premier_request_id always;

    upstream rasa {{
{replicas}
    }}
    upstream rasa_sockets {{
        hash $remote_addr consistent;
{replicas}
    }}

    server {{
        listen 127.0.0.1:{settings.entry_port};

        location = /nginx-health {{
            access_log off;
            return 200 "ok\\n";
        }}
        location ~ ^/(widget|desk)/socket\\.io/ {{
            proxy_pass http://rasa_sockets;
            # A location's own proxy_set_header replaces every inherited one: all of them.
            proxy_set_header Host $http_host;
            proxy_set_header X-Request-ID $premier_request_id;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 120s;
            proxy_buffering off;
        }}
        location /webhooks/ {{
            proxy_pass http://rasa;
            # Server-sent events (the portal channel's push) stream through unbuffered.
            proxy_buffering off;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
        location /downloads/ {{
            proxy_pass {settings.services_url};
        }}{slack}
        location / {{
            proxy_pass http://127.0.0.1:{settings.portal_port};
        }}
    }}
}}
"""


def write_nginx_config(settings: Settings, rasa_ports: List[int]) -> Path:
    folder = nginx_dir(settings)
    for buffers in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / buffers).mkdir(parents=True, exist_ok=True)
    path = folder / "nginx.conf"
    path.write_text(nginx_config(settings, rasa_ports))
    return path


def nginx_command(config: Path) -> List[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return [binary, "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"]


def production_parts(settings: Settings, rasa_ports: List[int], config: Path) -> List[Part]:
    """Every process of the layout, in start order (each after what it depends on)."""
    entry = f"http://127.0.0.1:{settings.entry_port}"
    model = assistant.model_path()
    parts = [
        Part(
            f"account services ({WORKERS} workers)",
            [sys.executable, "-m", "bot", "services", "--workers", str(WORKERS)],
            f"{settings.services_url}/health/ready",
            f"{settings.services_url} (inside; downloads through {entry}/downloads/)",
        ),
        Part(
            f"action server ({WORKERS} workers)",
            assistant.actions_command(settings),
            f"http://127.0.0.1:{settings.actions_port}/health",
            f"http://127.0.0.1:{settings.actions_port}/webhook (inside)",
            env={"ACTION_SERVER_SANIC_WORKERS": str(WORKERS)},
        ),
    ]
    for number, port in enumerate(rasa_ports, start=1):
        parts.append(
            Part(
                f"assistant (Rasa) replica {number}",
                assistant.serve_command(settings, model),
                f"http://127.0.0.1:{port}/webhooks/health/ready",
                f"http://127.0.0.1:{port} (inside)",
                # Behind nginx, the person's address (rate limits of anonymous visitors)
                # is the one nginx saw, in X-Real-IP; replicas listen on loopback only.
                env={
                    "RASA_PORT": str(port),
                    "SANIC_REAL_IP_HEADER": "x-real-ip",
                    "SANIC_PROXIES_COUNT": "1",
                },
                wait=number == len(rasa_ports),  # the replicas load their models together
            )
        )
    parts.append(
        Part(
            "demo portal + chat widget",
            [sys.executable, "-m", "bot.portal"],
            f"http://127.0.0.1:{settings.portal_port}/health",
            f"http://127.0.0.1:{settings.portal_port} (inside)",
        )
    )
    if settings.slack_configured:
        parts.append(
            Part(
                "Slack app",
                [sys.executable, "-m", "bot.slack"],
                f"http://127.0.0.1:{settings.slack_port}/health",
                f"{entry}/slack/events (request URL)",
            )
        )
    parts.append(
        Part("nginx (the entry point)", nginx_command(config), f"{entry}/nginx-health", entry)
    )
    return parts


def run_production(seed_demo: bool = True) -> int:
    """Prepare the stores and start every part behind nginx; returns when stopped."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        console.print("[red]nginx not found: apt-get install -y nginx-light (or nginx)[/red]")
        return 1
    os.environ.update(production_environment(os.environ, PROJECT_ROOT / ".env"))
    settings = load_settings()  # refuses, naming it, a missing or default secret
    with console.status("migrating the databases..."):
        prepare_stores(settings, seed_demo)
    ports = replica_ports(settings)
    config = write_nginx_config(settings, ports)
    return run_parts(
        settings,
        production_parts(settings, ports, config),
        note=(
            "Production mode: demo sign-in and `make token` are off; sign-in comes from your "
            "identity provider (README, 'Production mode')."
        ),
    )
