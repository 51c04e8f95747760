"""The Kubernetes manifests (deploy/k8s) and the image (Dockerfile), checked offline.

Every resource validates against the Kubernetes API schema bundled with
`kubernetes-validate` (strict: an unknown field is an error). The newest schema it can
bundle here is Kubernetes 1.28: later releases of the package need jsonschema 4.18+, which
Rasa 3.6 forbids; the manifests use only APIs that are GA and unchanged since (apps/v1,
batch/v1, networking.k8s.io/v1, policy/v1).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from bot.settings import GENERATED_SECRETS, SECRET_NAMES, load_settings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
GUIDE = ROOT / "docs" / "deploy.md"
IMAGE = "registry.example.com/premier/assistant"
# Settings whose values are secrets (or carry a password): only ever a Secret reference.
SECRET_SETTINGS = set(GENERATED_SECRETS) | {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "DATABASE_URL",
    "TRACKER_STORE_URL",
    "REDIS_URL",
}
# What a Secret reference stands for when the settings are loaded from a manifest.
STAND_IN = {
    "DATABASE_URL": "postgresql+psycopg2://premier@db.example.internal:5432/premier",
    "TRACKER_STORE_URL": "postgresql+psycopg2://premier@db.example.internal:5432/premier",
    "REDIS_URL": "rediss://redis.example.internal:6379/0",
}
WORKLOADS = {"Deployment", "Job", "CronJob"}


def documents() -> List[Tuple[Path, Dict[str, Any]]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path, doc))
    return found


def resources() -> List[Tuple[Path, Dict[str, Any]]]:
    return [(p, d) for p, d in documents() if d.get("kind") != "Kustomization"]


def kustomizations() -> List[Tuple[Path, Dict[str, Any]]]:
    return [(p, d) for p, d in documents() if d.get("kind") == "Kustomization"]


def pod_spec(doc: Dict[str, Any]) -> Dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def containers(kinds=WORKLOADS) -> Iterator[Tuple[str, str, Dict[str, Any], Dict[str, Any]]]:
    """(workload, init|main, container, pod spec) for every container of every workload."""
    for _, doc in resources():
        if doc["kind"] in kinds:
            spec = pod_spec(doc)
            name = f"{doc['kind']}/{doc['metadata']['name']}"
            for container in spec.get("initContainers", []):
                yield name, "init", container, spec
            for container in spec["containers"]:
                yield name, "main", container, spec


def config_map(name: str) -> Dict[str, str]:
    for _, doc in resources():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name:
            return dict(doc.get("data", {}))
    raise AssertionError(f"ConfigMap {name} is referenced but not in deploy/k8s")


def environment(container: Dict[str, Any]) -> Dict[str, str]:
    """The container's environment, with a stand-in for each Secret reference."""
    env: Dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"{container['name']}: envFrom only from ConfigMaps"
        env.update(config_map(source["configMapRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = STAND_IN.get(
                ref["key"], f"stand-in-{ref['key'].lower()}-" + "x" * 32
            )
    return env


def runs_our_code(container: Dict[str, Any]) -> bool:
    return container.get("command", [""])[0] == "python"


@pytest.mark.parametrize(
    ("path", "doc"),
    resources(),
    ids=[f"{p.relative_to(K8S)}:{d['kind']}/{d['metadata']['name']}" for p, d in resources()],
)
def test_every_resource_validates_against_the_kubernetes_schema(path, doc):
    version = latest_version()
    assert version >= "1.28"
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path)
        pytest.fail(
            f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {where}: {error.message}"
        )


def test_every_manifest_is_applied_by_a_kustomization():
    listed = {
        (path.parent / resource).resolve()
        for path, doc in kustomizations()
        for resource in doc["resources"]
    }
    files = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert files == listed
    tags = {image["newTag"] for _, doc in kustomizations() for image in doc["images"]}
    assert len(tags) == 1 and "latest" not in tags  # the migration Job runs the same release


def test_images_are_pinned_never_latest():
    for workload, _, container, _ in containers():
        image = container["image"]
        name, _, tag = image.rpartition(":")
        assert name == IMAGE and tag and tag != "latest", f"{workload}: {image}"


def test_every_container_has_requests_and_limits():
    for workload, _, container, _ in containers():
        resources_ = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert set(resources_.get(kind, {})) >= {"cpu", "memory"}, (
                f"{workload} {container['name']}: {kind} for cpu and memory"
            )


def test_every_long_running_container_has_probes():
    for workload, role, container, _ in containers({"Deployment"}):
        if role == "main":
            assert "readinessProbe" in container and "livenessProbe" in container, (
                f"{workload} {container['name']}"
            )


def test_containers_run_as_a_non_root_user_on_a_read_only_filesystem():
    for workload, _, container, spec in containers():
        assert spec["securityContext"]["runAsNonRoot"] is True, workload
        assert spec["securityContext"]["runAsUser"] != 0, workload
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, workload
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, workload


def test_each_part_gets_every_setting_production_requires():
    seen = set()
    for workload, _, container, _ in containers():
        if not runs_our_code(container):
            continue
        settings = load_settings(environment(container), env_file=None)
        assert settings.production, workload
        seen.add(workload)
        if workload == "Deployment/slack-app":
            assert settings.slack_configured
    assert seen >= {
        "Deployment/account-services",
        "Deployment/action-server",
        "Deployment/rasa",
        "Deployment/portal",
        "Deployment/slack-app",
        "Job/premier-migrate",
        "CronJob/prune-conversations",
    }


def key_files(container: Dict[str, Any], spec: Dict[str, Any]) -> set:
    """The files of Secret volumes this container mounts, as absolute paths."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files = set()
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret:
            files |= {f"{mount['mountPath']}/{item['path']}" for item in secret["items"]}
    return files


def test_only_the_account_services_get_the_private_key():
    for workload, role, container, spec in containers({"Deployment"}):
        if role != "main" or not runs_our_code(container):
            continue
        env = environment(container)
        mounted = key_files(container, spec)
        assert env["TOKEN_PUBLIC_KEY_FILE"] in mounted, workload
        has_private = env["TOKEN_PRIVATE_KEY_FILE"] in mounted
        assert has_private == (workload == "Deployment/account-services"), workload


def test_no_secret_is_written_in_a_manifest():
    for _, doc in resources():
        if doc["kind"] == "Secret":
            assert not doc.get("data") and not doc.get("stringData"), doc["metadata"]["name"]
        if doc["kind"] == "ConfigMap":
            assert not SECRET_SETTINGS & set(doc.get("data", {})), doc["metadata"]["name"]
    for workload, _, container, _ in containers():
        for item in container.get("env", []):
            if item["name"] in SECRET_SETTINGS:
                assert "secretKeyRef" in item.get("valueFrom", {}), f"{workload}: {item['name']}"
    leaks = re.compile(
        r"-----BEGIN|xox[abpr]-|xapp-|://[^/\s:@]+:[^@\s/]+@|(SECRET|TOKEN|PASSWORD)\s*[:=]\s*\S{8,}"
    )
    for path in K8S.rglob("*.yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not leaks.search(code) or "secretKeyRef" in code, f"{path.name}:{number}: {line}"


def test_the_guide_says_how_to_create_every_secret_the_manifests_use():
    guide = GUIDE.read_text()
    referenced = set()
    for _, _, container, spec in containers():
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                referenced.add((ref["name"], ref["key"]))
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced |= {
                    (volume["secret"]["secretName"], i["key"]) for i in volume["secret"]["items"]
                }
    for name, key in sorted(referenced):
        assert name in guide and f"{key}=" in guide, f"docs/deploy.md: how to create {name} {key}"
    assert set(SECRET_NAMES) <= {key for _, key in referenced}


def deployment(name: str) -> Dict[str, Any]:
    return next(
        d for _, d in resources() if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    )


def test_rasa_rolls_out_without_dropping_conversations():
    rasa = deployment("rasa")
    assert rasa["spec"]["replicas"] >= 2
    assert rasa["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = pod_spec(rasa)["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/webhooks/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/webhooks/health/live"
    assert "startupProbe" in container
    env = environment(container)
    settings = load_settings(env, env_file=None)
    assert settings.redis_url and settings.tracker_store_url.startswith("postgresql")
    init = pod_spec(rasa)["initContainers"][0]
    assert "write_endpoints" in init["command"][-1]


def test_the_websockets_reach_rasa_through_the_ingress():
    ingress = next(d for _, d in resources() if d["kind"] == "Ingress")
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert routes["/widget/socket.io"] == "rasa" and routes["/desk/socket.io"] == "rasa"
    assert routes["/"] == "portal" and routes["/slack/events"] == "slack-app"
    assert (
        int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"])
        >= 60
    )


def test_migrations_run_without_seeding_and_retention_runs_nightly():
    job = next(d for _, d in resources() if d["kind"] == "Job")
    commands = [c["command"] for c in pod_spec(job)["initContainers"]]
    assert [python for python in commands if python[:4] == ["python", "-m", "bot", "db"]] == [
        ["python", "-m", "bot", "db", "--no-seed"]
    ]
    cron = next(d for _, d in resources() if d["kind"] == "CronJob")
    assert pod_spec(cron)["containers"][0]["command"] == [
        "python",
        "-m",
        "bot",
        "prune-conversations",
    ]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_image_is_python_3_10_slim_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert stages[-1] == "python:3.10-slim"
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
