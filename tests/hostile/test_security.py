"""Security of the sidecar: tokens on the write endpoints, open reads, loopback by default."""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from driftline_sidecar.config import load_config
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.hostile.conftest import JSON, make_app
from tests.sidecar.conftest import MODEL, VERSION, serving
from tests.support.ports import free_port
from tests.support.procs import running_process

TOKEN = "s3cret-token"
# Every write endpoint, sorted; the token tests below cover each.
_WRITES = ["/v1/outcomes", "/v1/records"]
DRIFTLINE = str(Path(sys.executable).parent / "driftline")


@pytest.fixture
def token_app(tmp_path: Path, hostile_profile: Path) -> FastAPI:
    """A sidecar configured with a bearer token."""
    return make_app(tmp_path, hostile_profile, token=TOKEN)


@pytest.fixture
def token_http(token_app: FastAPI) -> Iterator[httpx.Client]:
    """A client of ``token_app`` served by uvicorn on 127.0.0.1."""
    with serving(token_app) as client:
        yield client


def _write_paths(app: FastAPI) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, APIRoute) and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    )


def test_every_write_endpoint_is_known_to_these_tests(
    tmp_path: Path, hostile_profile: Path
) -> None:
    """The write endpoints are exactly the ones the token tests below cover."""
    paths = _write_paths(make_app(tmp_path, hostile_profile))
    assert set(paths) <= {"/v1/records", "/v1/outcomes"}
    assert "/v1/records" in paths
    assert paths == _WRITES


_BAD_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer  x",
    "Bearer wrong",
    f"Basic {TOKEN}",
    f"Bearer {TOKEN}x",
]


@pytest.mark.parametrize("path", _WRITES)
@pytest.mark.parametrize("header", _BAD_HEADERS)
def test_write_without_the_right_token_is_401(
    token_http: httpx.Client, path: str, header: str | None
) -> None:
    """A write endpoint answers 401 naming Authorization when the token is missing or wrong."""
    headers = dict(JSON) if header is None else {**JSON, "Authorization": header}
    response = token_http.post(path, content=b'{"v": 1}', headers=headers)
    assert (response.status_code, response.json()["error"]["field"]) == (401, "Authorization")


@pytest.mark.parametrize("path", _WRITES)
def test_write_with_the_right_token_passes_authentication(
    token_http: httpx.Client, path: str
) -> None:
    """With the configured token the request reaches the body check (400 for an empty body)."""
    headers = {**JSON, "Authorization": f"Bearer {TOKEN}"}
    response = token_http.post(path, content=b'{"v": 1}', headers=headers)
    assert response.status_code == 400


def test_tokens_are_compared_in_constant_time(
    token_http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The presented token is checked with hmac.compare_digest against the configured one.

    A spy wraps the real hmac.compare_digest: timing cannot be asserted on a shared machine.
    """
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    headers = {**JSON, "Authorization": "Bearer guess"}
    token_http.post("/v1/records", content=b"{}", headers=headers)
    assert calls == [(b"guess", TOKEN.encode())]


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        "/v1/models",
        "/metrics",
        "/openapi.json",
        f"/v1/drift/{MODEL}/{VERSION}",
    ],
)
def test_reads_stay_open_when_a_token_is_configured(token_http: httpx.Client, path: str) -> None:
    """The read endpoints answer without a token (documented: they carry no captured values)."""
    assert token_http.get(path).status_code != 401


def test_the_token_is_not_in_the_configuration_repr() -> None:
    """repr() of the configuration, as a log line might show it, leaves the token out."""
    config = load_config(environ={"DRIFTLINE_SIDECAR_TOKEN": TOKEN})
    assert (config.token, TOKEN in repr(config)) == (TOKEN, False)


def test_the_default_host_is_loopback() -> None:
    """Without a configuration file or environment the sidecar binds 127.0.0.1."""
    assert load_config(environ={}).host == "127.0.0.1"


def _listening_addresses(port: int) -> set[str]:
    """The local IPv4 addresses listening on ``port``, from the kernel's /proc/net/tcp table."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, port_hex = local.partition(":")
        if state == "0A" and int(port_hex, 16) == port:
            addresses.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses


@pytest.mark.integration
def test_the_sidecar_process_listens_on_loopback_by_default(tmp_path: Path) -> None:
    """`driftline sidecar` with no --host and no configuration listens on 127.0.0.1 only."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DRIFTLINE_")}
    argv = [DRIFTLINE, "sidecar", "--port", str(port)]
    with running_process(
        argv, ready_url=f"http://127.0.0.1:{port}/readyz", env=env, cwd=tmp_path, name="sidecar"
    ):
        addresses = _listening_addresses(port)
    assert addresses == {"127.0.0.1"}
