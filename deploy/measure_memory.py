"""Measure each part's resident memory (RSS) the way docs/deploy.md reports it.

Starts every part as its own process in production mode against a real PostgreSQL and
Redis (a fresh database, dropped afterwards), waits until each is healthy, reads RSS
with `ps`, sends a warm-up of chat turns through the portal endpoint (so Rasa has run
its policies and the action server and services have answered), reads RSS again, and
stops everything it started. The one-shot commands (migrations, retention) are run
under `/usr/bin/time -v` for their peak RSS.

    .venv/bin/python deploy/measure_memory.py --model models/assistant.tar.gz

Ports default away from `make run`'s (6005, 6055, 9000, 9080, 6300).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import tokens  # noqa: E402
from bot.assistant import write_endpoints  # noqa: E402
from bot.services import models as m  # noqa: E402
from bot.settings import load_settings, write_key_pair  # noqa: E402

MESSAGES = (
    "hello",
    "show my unpaid invoices",
    "list my recent orders",
    "warranty for service tag 7XK2M93",
    "muéstrame las facturas pendientes",
    "what can you do",
    "show my service contracts",
    "thanks",
)


def rss_mib(pid: int) -> float:
    """RSS of `pid` and all its descendants, in MiB (as `ps -o rss` reports it)."""
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, check=True
    ).stdout
    rows = [tuple(int(v) for v in line.split()) for line in out.splitlines() if line.strip()]
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid, _ in rows:
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss for p, _, rss in rows if p in tree) / 1024


def high_water_mib(pid: int) -> float:
    """The most RSS `pid` has had so far (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else float("nan")


def peak_rss_mib(command: List[str], env: Dict[str, str]) -> Tuple[float, str]:
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return (int(found.group(1)) / 1024 if found else float("nan")), result.stdout.strip()


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 600) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="premier-measure-"))
    private_key, public_key = work / "token-signing.pem", work / "token-signing.pub.pem"
    write_key_pair(private_key, public_key)
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT", future=True)
    name = f"premier_measure_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "HOST": "127.0.0.1",
        "RASA_PORT": "6005",
        "ACTIONS_PORT": "6055",
        "SERVICES_PORT": "9000",
        "PORTAL_PORT": "9080",
        "SLACK_PORT": "6300",
        "PORTAL_ORIGIN": "http://127.0.0.1:9080",
        "DATABASE_URL": database,
        "TRACKER_STORE_URL": database,
        "REDIS_URL": args.redis,
        "TOKEN_PRIVATE_KEY_FILE": str(private_key),
        "TOKEN_PUBLIC_KEY_FILE": str(public_key),
        **{
            key: secrets.token_urlsafe(32)
            for key in (
                "DOWNLOAD_SECRET",
                "RASA_API_TOKEN",
                "CHAT_SECRET",
                "ACTIONS_SECRET",
                "SLACK_SERVICE_SECRET",
                "SLACK_SIGNING_SECRET",
            )
        },
        "SLACK_BOT_TOKEN": "xoxb-measure",
        "SLACK_APP_TOKEN": "",
        "CHAT_RATE_PER_PERSON": "100000",
        "CHAT_RATE_PER_ADDRESS": "100000",
    }
    from tests.slack.fake_slack import FakeSlack  # the tests' stand-in for Slack's Web API

    fake_slack = FakeSlack().start()
    env["SLACK_API_URL"] = fake_slack.api_url
    settings = load_settings(env, env_file=None)
    endpoints = write_endpoints(settings, work / "endpoints.yml")
    py = sys.executable
    rows: List[Tuple[str, str, float, float, float, float]] = []

    migrate_rss, _ = peak_rss_mib([py, "-m", "bot", "db"], env)  # migrate + seed (demo data)
    parts = [
        ("account services", [py, "-m", "bot", "services"], "http://127.0.0.1:9000/health"),
        ("action server", [py, "-m", "bot", "actions"], "http://127.0.0.1:6055/health"),
        (
            "Rasa server",
            [
                py,
                "-m",
                "bot",
                "assistant",
                "--model",
                str(args.model),
                "--endpoints",
                str(endpoints),
            ],
            "http://127.0.0.1:6005/webhooks/portal/",
        ),
        ("portal", [py, "-m", "bot.portal"], "http://127.0.0.1:9080/health"),
        ("Slack app", [py, "-m", "bot.slack"], "http://127.0.0.1:6300/health"),
    ]
    running: List[Tuple[str, subprocess.Popen, float]] = []
    try:
        for label, command, health in parts:
            log = open(work / f"{label.replace(' ', '-')}.log", "w")  # noqa: SIM115
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            running.append((label, process, wait_healthy(health, process)))
        time.sleep(5)
        idle = {label: rss_mib(p.pid) for label, p, _ in running}
        engine = create_engine(database, future=True)
        with Session(engine) as session:
            people = [
                session.scalar(select(m.User).filter_by(email=email))
                for email in ("ben.buyer@acme.example", "diego.admin@globex.example")
            ]
            memberships = [
                session.scalar(select(m.Membership.account_id).filter_by(user_id=person.id))
                for person in people
            ]
        engine.dispose()
        turns = 0
        for round_ in range(3):
            for person, account_id in zip(people, memberships, strict=True):
                token = tokens.mint_token(
                    settings.token_signing_key(),
                    user_id=person.id,
                    account_id=account_id,
                    channel="portal",
                    language=person.language,
                    ttl=dt.timedelta(minutes=30),
                )
                for text in MESSAGES:
                    reply = httpx.post(
                        "http://127.0.0.1:6005/webhooks/portal/webhook",
                        json={"sender": f"measure-{round_}", "message": text},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=60,
                    )
                    reply.raise_for_status()
                    turns += 1
        time.sleep(2)
        warm = {label: rss_mib(p.pid) for label, p, _ in running}
        peak = {label: high_water_mib(p.pid) for label, p, _ in running}
        for label, _, ready in running:
            rows.append((label, "long-running", ready, idle[label], warm[label], peak[label]))
    finally:
        for _, process, _ in reversed(running):
            process.terminate()
        for _, process, _ in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        fake_slack.stop()
    prune_rss, prune_out = peak_rss_mib([py, "-m", "bot", "prune-conversations"], env)
    nan = float("nan")
    rows.append(("migrations (`bot db`)", "job", nan, nan, nan, migrate_rss))
    rows.append(("prune-conversations", "job", nan, nan, nan, prune_rss))
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()

    print(f"chat turns sent: {turns}; prune said: {prune_out}")
    print("| part | kind | ready after (s) | RSS ready (MiB) | RSS after warm-up | peak RSS |")
    print("|---|---|---|---|---|---|")
    for label, kind, *figures in rows:
        cells = ["" if f != f else f"{f:.0f}" for f in figures]  # NaN: not applicable
        print(f"| {label} | {kind} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
