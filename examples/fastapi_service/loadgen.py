"""Send example traffic to the churn service; after DRIFT_AFTER requests the inputs drift.

Environment: ``TARGET`` (default http://127.0.0.1:8000/predict), ``RATE`` requests per
second (default 5), ``DRIFT_AFTER`` (default 3000; 0 never drifts), ``SEED``.
Stops after ``MAX_REQUESTS`` (default 1,000,000) requests.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_reference import customers


def main() -> None:
    """Post one customer at a time at RATE per second."""
    target = os.environ.get("TARGET", "http://127.0.0.1:8000/predict")
    rate = float(os.environ.get("RATE", "5"))
    drift_after = int(os.environ.get("DRIFT_AFTER", "3000"))
    max_requests = int(os.environ.get("MAX_REQUESTS", "1000000"))
    rng = np.random.default_rng(int(os.environ.get("SEED", "7")))
    for sent in range(max_requests):
        shifted = 0 < drift_after <= sent
        body = json.dumps(customers(rng, 1, shifted=shifted)[0]).encode()
        request = urllib.request.Request(
            target, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                answer.read()
        except (urllib.error.URLError, OSError) as exc:
            print(f"loadgen: {exc}", file=sys.stderr)
            time.sleep(1.0)
        time.sleep(1.0 / rate)


if __name__ == "__main__":
    main()
