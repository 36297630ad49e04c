"""The sidecar configuration: YAML keys, environment overrides, and errors naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftline_sidecar.config import ConfigError, Limits, SidecarConfig, load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sidecar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    """No file and no environment gives the documented defaults."""
    assert load_config(None, environ={}) == SidecarConfig()


def test_yaml_values_are_read(tmp_path: Path) -> None:
    """Scalar keys and limits in the file end up in the configuration."""
    path = _write(tmp_path, "port: 9000\ninterval: 5\nlimits:\n  max_batches: 3\n")
    config = load_config(path, environ={})
    assert (config.port, config.interval, config.limits.max_batches) == (9000, 5.0, 3)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """DRIFTLINE_SIDECAR_PORT wins over the file's port."""
    path = _write(tmp_path, "port: 9000\n")
    assert load_config(path, environ={"DRIFTLINE_SIDECAR_PORT": "9100"}).port == 9100


def test_environment_text_is_taken_as_written() -> None:
    """DRIFTLINE_SIDECAR_TOKEN=on is the token "on", not a YAML boolean."""
    assert load_config(None, environ={"DRIFTLINE_SIDECAR_TOKEN": "on"}).token == "on"


def test_environment_sets_limits() -> None:
    """DRIFTLINE_SIDECAR_LIMITS_MAX_RECORDS sets limits.max_records."""
    config = load_config(None, environ={"DRIFTLINE_SIDECAR_LIMITS_MAX_RECORDS": "7"})
    assert config.limits == Limits(max_records=7)


def test_environment_empty_value_clears_an_optional_key() -> None:
    """An empty DRIFTLINE_SIDECAR_WINDOW_MAX_AGE means no age limit."""
    assert (
        load_config(None, environ={"DRIFTLINE_SIDECAR_WINDOW_MAX_AGE": ""}).window_max_age is None
    )


def test_state_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    """A relative state_dir is resolved against the configuration file's directory."""
    path = _write(tmp_path, "state_dir: state\n")
    assert load_config(path, environ={}).state_dir == tmp_path.resolve() / "state"


def test_model_with_profile(tmp_path: Path) -> None:
    """A model entry reads its profile path, prediction mapping and overrides."""
    (tmp_path / "p.npz").write_bytes(b"x")
    path = _write(
        tmp_path,
        "models:\n  - model: churn\n    version: 2.3\n    profile: p.npz\n"
        "    prediction_columns: {value: churn_probability}\n    drift: {q: 0.01}\n",
    )
    (model,) = load_config(path, environ={}).models
    assert ("churn", "2.3", tmp_path.resolve() / "p.npz", {"value": "churn_probability"}) == (
        model.model,
        model.version,
        model.profile,
        dict(model.prediction_columns),
    )


@pytest.mark.parametrize(
    ("text", "environ", "key", "reason"),
    [
        ("prot: 1\n", {}, "prot", "unknown key"),
        ("port: eighty\n", {}, "port", "expected a number"),
        ("port: 70000\n", {}, "port", "at most 65535"),
        ("interval: -1\n", {}, "interval", "at least"),
        ("window_size: 1.5\n", {}, "window_size", "expected an integer"),
        ("limits:\n  max_rows: 3\n", {}, "limits.max_rows", "unknown key"),
        ("limits: 3\n", {}, "limits", "expected a mapping"),
        ("models: {}\n", {}, "models", "expected a list"),
        ("models:\n  - model: m\n    version: v\n", {}, "models[0].profile", "required"),
        (
            "models:\n  - model: m\n    version: v\n    profile: nowhere.npz\n",
            {},
            "models[0].profile",
            "nowhere.npz",
        ),
        (
            "models:\n  - model: m\n    version: v\n    profile: p.npz\n    colour: red\n",
            {},
            "models[0].colour",
            "unknown key",
        ),
        ("", {"DRIFTLINE_SIDECAR_PORT": "many"}, "port", "expected a number"),
        ("alerting:\n  colour: red\n", {}, "alerting.colour", "unknown key"),
        ("alerting:\n  resend_interval: soon\n", {}, "alerting.resend_interval", ""),
    ],
)
def test_config_errors_name_key_and_source(
    tmp_path: Path, text: str, environ: dict[str, str], key: str, reason: str
) -> None:
    """Each bad configuration raises ConfigError naming key, file or variable, and reason."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ)
    source = f"${next(iter(environ))}" if environ else str(path)
    assert (key, source, True) == (
        caught.value.key,
        caught.value.source,
        reason in str(caught.value),
    )


def test_alerting_section_is_read(tmp_path: Path) -> None:
    """The alerting section becomes the sidecar's AlertingSettings."""
    path = _write(tmp_path, "alerting:\n  service: churn-api\n  log: false\n")
    alerting = load_config(path, environ={}).alerting
    assert (alerting.service, alerting.log) == ("churn-api", False)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    """A configuration file that does not exist raises ConfigError naming the file."""
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml", environ={})
