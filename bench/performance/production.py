"""Production mode: `make run-prod`'s layout under the same load, to one and to two replicas.

The full run only. tests/e2e/prod_stack.py starts the layout (PostgreSQL, Redis, services and
action server with 2 workers each, two Rasa replicas, nginx); a second nginx with replica 1
alone gives the one-replica figures.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import psutil

from bench.load import Conversation
from bench.performance.findings import Findings
from bench.performance.measure import measure_load
from bench.performance.plan import ACCOUNT, PROD_ONE, PROD_TWO, SMALL, terminal
from bench.performance.systems import (
    MemorySampler,
    People,
    System,
    free_port,
    people_needed,
    stop,
)


@contextlib.contextmanager
def one_replica_entry(prod: Any) -> Iterator[Tuple[str, int]]:
    """A second nginx, configured as `make run-prod`'s but with replica 1 alone."""
    from bot.production import nginx_command, nginx_dir, write_nginx_config
    from tests.conftest import settings_for_tests

    # Only /webhooks/ is used here; the other locations need valid addresses all the same.
    settings = settings_for_tests(
        ENTRY_PORT=str(free_port()),
        SERVICES_URL=prod.services.base_url,
        PORTAL_PORT=prod.services.base_url.rsplit(":", 1)[1],
    )
    config = write_nginx_config(settings, [int(prod.replicas[0].rsplit(":", 1)[1])])
    log = config.parent / "nginx.out"
    with open(log, "w") as out:
        process = subprocess.Popen(nginx_command(config), stdout=out, stderr=subprocess.STDOUT)
    entry = f"http://127.0.0.1:{settings.entry_port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(f"{entry}/nginx-health"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the one-replica nginx did not start: {log.read_text()}")
            time.sleep(0.2)
        yield entry, process.pid
    finally:
        stop(process)
        shutil.rmtree(nginx_dir(settings), ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def production_processes(prod: Any, extra: Dict[str, int]) -> Dict[str, int]:
    """The runner's parts by name (each with its workers), the replicas by number."""
    kinds = {
        "-m bot services": "account services (2 workers)",
        "-m bot actions": "action server (2 workers)",
        "-m bot.portal": "portal",
        "-m bot.slack": "Slack app",
        "nginx": "nginx (two replicas)",
    }
    found: Dict[str, int] = {}
    for child in psutil.Process(prod.runner.pid).children():
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline())
            for marker, label in kinds.items():
                if marker in command:
                    found[label] = child.pid
    for number in (1, 2):
        found[f"Rasa replica {number}"] = prod.replica_pid(number)
    return {**found, **extra}


def measure_production(workdir: Path, sampler: MemorySampler, findings: Findings) -> None:
    """The same load through nginx, to replica 1 alone and to both replicas."""
    from tests.e2e.prod_stack import missing_prerequisite, running_prod_stack

    problem = missing_prerequisite()
    if problem:
        findings.production = f"not measured: {problem}"
        return
    with terminal.status("production mode: migrating, starting two replicas and nginx..."):
        stack = running_prod_stack(workdir)
        prod = stack.__enter__()
    try:
        people = People(prod.services, "", 2 * people_needed(findings.plan))
        with one_replica_entry(prod) as (one_entry, nginx_pid):
            for name, entry in ((PROD_ONE, one_entry), (PROD_TWO, prod.entry)):
                url = f"{entry}/webhooks/portal/webhook"

                def conversations(count: int, url: str = url) -> List[Conversation]:
                    return [replace(c, url=url) for c in people.conversations(count)]

                def processes() -> Dict[str, int]:
                    return production_processes(prod, {"nginx (one replica)": nginx_pid})

                for label, pid in processes().items():
                    sampler.watch(f"production: {label}", pid)
                system = System(name, processes, conversations, watched_as="production")
                measure_load(system, (SMALL, ACCOUNT), sampler, findings)
            sampler.forget("production: ")
    finally:
        with terminal.status("production mode: stopping..."):
            stack.__exit__(None, None, None)
        shutil.rmtree(prod.nginx_dir, ignore_errors=True)  # the runner leaves its nginx's
    findings.production = (
        f"`make run-prod`'s layout (tests/e2e/prod_stack.py): PostgreSQL for the accounts and "
        f"the conversations, Redis lock store, services and action server with 2 workers each, "
        f"two Rasa replicas, nginx. '1 replica' goes through a second nginx with the same "
        f"configuration but replica 1 alone (replica 2 stays up, idle); "
        f"{findings.plan.production_seconds:.0f} s per run after one warm-up turn per "
        f"conversation."
    )
