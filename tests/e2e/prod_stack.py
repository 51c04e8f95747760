"""`make run-prod` started for the tests: PostgreSQL, Redis, two Rasa replicas, nginx.

The runner (`python -m bot run --prod`, bot/production.py) is started exactly as a person
starts it, on databases of its own and free ports; the tests reach the product only through
nginx's one address, except where a fault needs a part by name (a replica to kill).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.load_people import seed_load_people  # noqa: F401 - the load tests import it here
from bot.services.db import create_engine
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    ROOT,
    RunningServices,
    _admin,
    free_port,
    postgres_available,
    service_env,
)

REDIS_URL = "redis://127.0.0.1:6379/6"
NGINX = "/usr/sbin/nginx"
PG_VERSION_DIR = Path("/etc/postgresql")
# The commands these machines start their servers with (the machine notes); a restart is a
# stop and the same start.
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
LOAD_PEOPLE = 50


def missing_prerequisite() -> Optional[str]:
    """Why the production stack cannot run here (None: it can)."""
    problem = postgres_available()
    if problem:
        return problem
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at 127.0.0.1:6379: {exc}"
    if not Path(NGINX).exists():
        return "nginx is missing: apt-get install -y nginx-light (.ci/run does it)"
    return None


@dataclass
class ProdStack:
    entry: str
    runner: subprocess.Popen
    services: RunningServices
    replicas: List[str]
    tracker_url: str
    log: Path
    actions_port: int
    nginx_dir: Path = Path()
    # Every token handed out: the secrets test looks for each in the stores and the logs.
    tokens_sent: set = field(default_factory=set)

    def token(self, email: str) -> str:
        minted = self.services.token(email)
        self.tokens_sent.add(minted)
        return minted

    def stored_and_logged(self) -> str:
        """Every conversation event (decoded) and every log line of every part and nginx."""
        engine = create_engine(self.tracker_url)
        try:
            with engine.connect() as connection:
                rows = [
                    json.dumps(json.loads(data), ensure_ascii=False)
                    for data in connection.execute(text("SELECT data FROM events")).scalars()
                ]
        finally:
            engine.dispose()
        logs = [self.log.read_text(errors="replace")]
        logs += [path.read_text(errors="replace") for path in self.nginx_dir.glob("*.log")]
        return "\n".join(rows + logs)

    def say(self, text: str, token: str, message_id: Optional[str] = None) -> httpx.Response:
        body: Dict[str, Any] = {"message": text}
        if message_id:
            body["message_id"] = message_id
        return httpx.post(
            f"{self.entry}/webhooks/portal/webhook",
            headers={"Authorization": f"Bearer {token}"},
            json=body,
            timeout=120,
        )

    def texts(self, text: str, token: str) -> str:
        answer = self.say(text, token)
        assert answer.status_code == 200, answer.text
        return "\n".join(reply.get("text", "") for reply in answer.json())

    def user_texts(self, conversation: str) -> List[str]:
        """What the person said, in the order the conversation store holds it."""
        engine = create_engine(self.tracker_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT data FROM events WHERE sender_id = :id AND type_name = 'user' "
                        "ORDER BY id"
                    ),
                    {"id": conversation},
                ).scalars()
                return [json.loads(row)["text"] for row in rows]
        finally:
            engine.dispose()

    def turns_interleaved(self, conversation: str) -> List[int]:
        """Event ids of user messages that arrived before the previous turn had ended.

        A turn ends with `action_listen`; two messages processed at once (no lock across
        replicas) would show as two user events with no `action_listen` between them.
        """
        engine = create_engine(self.tracker_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT id, type_name, action_name FROM events WHERE sender_id = :id "
                        "ORDER BY id"
                    ),
                    {"id": conversation},
                ).all()
        finally:
            engine.dispose()
        interleaved, listening = [], True
        for event_id, kind, action in rows:
            if kind == "user":
                if not listening:
                    interleaved.append(event_id)
                listening = False
            elif kind == "action" and action == "action_listen":
                listening = True
        return interleaved

    def replica_pid(self, number: int) -> int:
        """The process id of Rasa replica `number` (1 or 2), as its port shows it."""
        return self.pid_on_port(int(self.replicas[number - 1].rsplit(":", 1)[1]))

    @staticmethod
    def pid_on_port(port: int) -> int:
        found = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout
        assert "pid=" in found, f"nothing listens on {port}"
        return int(found.split("pid=", 1)[1].split(",", 1)[0])

    def socket_replica(self) -> int:
        """The replica (1 or 2) holding the one open widget socket (nginx keeps no idle
        connections to the replicas, so an established one is a socket or a request)."""
        holders = []
        for number, replica in enumerate(self.replicas, start=1):
            port = replica.rsplit(":", 1)[1]
            found = subprocess.run(
                ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if found.strip():
                holders.append(number)
        assert len(holders) == 1, f"sockets on replicas {holders}"
        return holders[0]

    def wait_ready(self, url: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.runner.poll() is None, self.tail()
            try:
                if httpx.get(url, timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise AssertionError(f"{url} not ready within {timeout:.0f} s\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def running_prod_stack(workdir: Path) -> Iterator[ProdStack]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"premier_prod_{suffix}", f"premier_prodconv_{suffix}")
    admin = make_url(POSTGRES_ADMIN_URL)
    urls = [admin.set(database=n).render_as_string(hide_password=False) for n in names]
    services_port, actions_port, portal_port, entry_port = (free_port() for _ in range(4))
    rasa_port = _two_free_ports()
    env = service_env(urls[0], services_port)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "PUBLIC_URL"):
        env.pop(name, None)
    env.update(
        {
            "DATABASE_URL": urls[0],
            "TRACKER_STORE_URL": urls[1],
            "REDIS_URL": REDIS_URL,
            "ACTIONS_PORT": str(actions_port),
            "ACTIONS_HOST": "127.0.0.1",
            "RASA_PORT": str(rasa_port),
            "PORTAL_PORT": str(portal_port),
            "ENTRY_PORT": str(entry_port),
            "SERVICES_TIMEOUT_MS": "5000",
        }
    )
    redis.Redis.from_url(REDIS_URL).flushdb()  # a fresh world, in Redis too
    log = workdir / "run-prod.log"
    handle = open(log, "w")  # noqa: SIM115 - closed below
    runner = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--prod"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = None
    try:
        stack = ProdStack(
            entry=f"http://127.0.0.1:{entry_port}",
            runner=runner,
            services=None,  # type: ignore[arg-type]
            replicas=[f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{rasa_port + 1}"],
            tracker_url=urls[1],
            log=log,
            actions_port=actions_port,
            nginx_dir=ROOT / "var" / f"nginx-{entry_port}",
        )
        stack.wait_ready(f"{stack.entry}/nginx-health", timeout=900)
        for replica in stack.replicas:
            stack.wait_ready(f"{replica}/webhooks/health/ready")
        engine = create_engine(urls[0])
        stack.services = RunningServices(
            "postgresql", f"http://127.0.0.1:{services_port}", urls[0], engine, runner
        )
        yield stack
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGINT)
            try:
                runner.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
        handle.close()
        if engine is not None:
            engine.dispose()
        for name in names:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _two_free_ports() -> int:
    """A port whose next port is free too (the replicas listen on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two free ports in a row")


def restart_postgresql() -> None:
    version = sorted(p.name for p in PG_VERSION_DIR.iterdir())[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True
    )


def restart_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(socket_timeout=0.5).ping()
            time.sleep(0.2)
        except redis.RedisError:
            break
    subprocess.run(REDIS_START, check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(socket_timeout=0.5).ping()
            return
        except redis.RedisError:
            time.sleep(0.2)
    raise RuntimeError("Redis did not come back")
