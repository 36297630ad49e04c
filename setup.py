"""The C part of the SDK: ``driftline._speedups``, optional (see docs/sdk.md#speed).

Everything else is declared in pyproject.toml. ``optional=True``: where the
extension cannot be compiled, the install goes on and the SDK runs the same
steps as Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("driftline._speedups", ["sdk/driftline/_speedups.c"], optional=True),
        Extension(
            "driftline_sidecar.drift._kernels",
            ["sidecar/driftline_sidecar/drift/_kernels.c"],
            optional=True,
        ),
    ]
)
