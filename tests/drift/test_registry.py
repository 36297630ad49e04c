"""The method registry resolves names and lists the valid ones on error."""

from __future__ import annotations

import pytest
from driftline_sidecar.drift import UnknownMethodError, get_method, method_names


def test_every_method_is_registered_by_name() -> None:
    """The registry holds the five methods."""
    assert method_names() == ("chi2", "jensen_shannon", "ks", "psi", "wasserstein")


def test_unknown_name_lists_valid_names() -> None:
    """An unknown method name is refused with the valid names in the message."""
    with pytest.raises(
        UnknownMethodError, match="valid: chi2, jensen_shannon, ks, psi, wasserstein"
    ):
        get_method("kl")


def test_wrong_kind_lists_the_methods_of_that_kind() -> None:
    """A categorical test asked for a numeric column names the numeric tests."""
    with pytest.raises(UnknownMethodError, match=r"valid: ks$"):
        get_method("chi2", "numeric", "test")
