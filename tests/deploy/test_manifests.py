"""What operations relies on in the Kubernetes manifests and the container image."""

from __future__ import annotations

from pathlib import Path

import yaml

from libs.runtime.settings import ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = ("invoicing", "payments", "matching", "aging", "dunning", "credit")


def documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if doc]


def test_every_manifest_listed_in_the_kustomization_exists_and_parses() -> None:
    kustomization = documents("kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert documents(resource), resource


def test_every_service_runs_with_probes_metrics_and_its_own_name() -> None:
    for service in SERVICES:
        deployment = next(doc for doc in documents(f"{service}.yaml") if doc["kind"] == "Deployment")
        pod = deployment["spec"]["template"]
        container = pod["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
        environment = {entry["name"]: entry["value"] for entry in container["env"]}
        assert environment == {"AR_SERVICE": service, "SERVICE_NAME": service}
        assert (Path(__file__).resolve().parents[2] / "services" / service / "main.py").exists()


def test_the_configuration_names_only_settings_the_services_read() -> None:
    config = next(doc for doc in documents("config.yaml") if doc["kind"] == "ConfigMap")
    secret = next(doc for doc in documents("config.yaml") if doc["kind"] == "Secret")
    known = {name.upper() for name in ServiceSettings.model_fields}
    assert set(config["data"]) | set(secret["stringData"]) <= known


def test_the_image_listens_on_all_interfaces_on_the_probed_port() -> None:
    dockerfile = (DEPLOY / "container" / "Dockerfile").read_text()
    assert "HTTP_HOST=0.0.0.0" in dockerfile
    assert "HTTP_PORT=8080" in dockerfile
    assert "-c constraints.txt" in dockerfile
