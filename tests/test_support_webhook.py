"""The webhook recorder: a real HTTP server that keeps every JSON POST."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.webhook import WebhookRecorder


@pytest.fixture
def hook() -> Iterator[WebhookRecorder]:
    """A recorder on a free 127.0.0.1 port for one test."""
    with WebhookRecorder() as recorder:
        yield recorder


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_posts_are_recorded_with_path_and_body(hook: WebhookRecorder) -> None:
    """A JSON POST is answered 200 and kept with its path and decoded body."""
    status = _post(hook.url + "alerts", json.dumps({"status": "firing", "alerts": []}).encode())
    assert (status, [(p.path, p.body) for p in hook.posts]) == (
        200,
        [("/alerts", {"status": "firing", "alerts": []})],
    )


def test_invalid_json_is_answered_400_and_not_recorded(hook: WebhookRecorder) -> None:
    """A body that is not JSON gets 400 and leaves the record empty."""
    assert (_post(hook.url, b"{not json"), hook.payloads) == (400, [])


def test_alerts_flattens_alertmanager_payloads(hook: WebhookRecorder) -> None:
    """alerts() lists the alerts of every payload in arrival order."""
    for name in ("A", "B"):
        _post(hook.url, json.dumps({"alerts": [{"labels": {"alertname": name}}]}).encode())
    assert [a["labels"]["alertname"] for a in hook.alerts()] == ["A", "B"]


def test_wait_for_returns_once_predicate_holds(hook: WebhookRecorder) -> None:
    """wait_for blocks until a POST from another thread satisfies the predicate."""
    sender = threading.Thread(target=_post, args=(hook.url, b'{"n": 1}'))
    sender.start()
    payloads: list[Any] = hook.wait_for(lambda ps: len(ps) == 1, timeout=10)
    sender.join()
    assert payloads == [{"n": 1}]


def test_wait_for_times_out_with_payloads_in_message(hook: WebhookRecorder) -> None:
    """wait_for raises TimeoutError showing what did arrive."""
    _post(hook.url, b'{"n": 1}')
    with pytest.raises(TimeoutError, match=r"\{'n': 1\}"):
        hook.wait_for(lambda ps: len(ps) == 2, timeout=0.1)
