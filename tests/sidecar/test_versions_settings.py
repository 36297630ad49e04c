"""The versions: section of the sidecar configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftline_sidecar.config import ConfigError, load_config

from tests.sidecar.conftest import write_config


def test_model_entries_override_the_section_defaults(tmp_path: Path, profile_path: Path) -> None:
    """A key under versions.models.<name> wins; the others come from the section."""
    path = write_config(
        tmp_path,
        profile_path,
        versions={"threshold": 0.3, "models": {"churn": {"agreement_below": 0.95}}},
    )

    churn = load_config(path, environ={}).versions.for_model("churn")

    assert (churn.threshold, churn.agreement_below) == (0.3, 0.95)


@pytest.mark.parametrize(
    ("versions", "key"),
    [
        ({"nope": 1}, "versions.nope"),
        ({"horizon": 0}, "versions.horizon"),
        ({"max_predictions": -1}, "versions.max_predictions"),
        ({"models": {"churn": {"task": "ranking"}}}, "versions.models.churn.task"),
        ({"agreement_below": 1.5}, "versions.agreement_below"),
        ({"performance_metrics": ["speed"]}, "versions.performance_metrics"),
    ],
)
def test_a_bad_value_names_its_key(
    tmp_path: Path, profile_path: Path, versions: dict[str, object], key: str
) -> None:
    """A bad versions key or value stops the start with a ConfigError naming the key."""
    path = write_config(tmp_path, profile_path, versions=versions)

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})

    assert raised.value.key == key
