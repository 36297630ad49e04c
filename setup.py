"""The optional C extensions; everything else is declared in pyproject.toml.

``driftline._speedups``: the SDK's untraced call (docs/sdk.md#speed).
``driftline._exchange``: the shipper's POST with the GIL released once, and
``driftline._body``: its common body written, and POSTed, with the GIL
released, with the vendored yyjson (docs/reliability.md#latency-under-faults).
``driftline_sidecar.drift._kernels``: the drift engine's KS / Wasserstein merge
walk (docs/drift.md#speed). ``optional=True``: where one cannot be compiled, the
install goes on and the SDK or the engine runs the same steps in Python / numpy
(and the tests that require the extensions fail).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("driftline._speedups", ["sdk/driftline/_speedups.c"], optional=True),
        Extension(
            "driftline._exchange",
            ["sdk/driftline/_exchange.c"],
            depends=["sdk/driftline/_http_io.h"],
            optional=True,
        ),
        Extension(
            "driftline._body",
            ["sdk/driftline/_body.c", "sdk/driftline/vendor/yyjson/yyjson.c"],
            depends=["sdk/driftline/_http_io.h", "sdk/driftline/vendor/yyjson/yyjson.h"],
            # Only the mutable document and its writer are used.
            define_macros=[("YYJSON_DISABLE_READER", "1"), ("YYJSON_DISABLE_UTILS", "1")],
            optional=True,
        ),
        Extension(
            "driftline_sidecar.drift._kernels",
            ["sidecar/driftline_sidecar/drift/_kernels.c"],
            optional=True,
        ),
    ]
)
