"""A nightly batch job: score this month's applicants and ship the records to the sidecar.

The scoring function is monitored with ``@driftline.monitor(batch=True)``: each call is one
span and one metric observation, and every row becomes one captured record (features and
prediction) queued for the sidecar. ``driftline.shutdown()`` at the end flushes the queue
before the process exits, so no record is lost when the job ends.

Run (the sidecar URL comes from ``DRIFTLINE_SIDECAR_URL``, or ``--sidecar-url``)::

    python score_batch.py --input applications.csv --output scored.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import driftline
import pandas as pd
from model import FEATURES, default_probability

HERE = Path(__file__).parent


@driftline.monitor(model="credit-default", version="1.0.0", batch=True)
def score(applicants: pd.DataFrame) -> pd.Series:
    """Return the probability of default of each applicant (one row per applicant)."""
    return pd.Series(
        default_probability(
            applicants["income_k"],
            applicants["age"],
            applicants["utilisation"],
            applicants["region"],
        ),
        index=applicants.index,
    )


def main() -> int:
    """Score the input in chunks, write the scores and flush the records; 1 if any were lost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=HERE / "applications.csv")
    parser.add_argument("--output", type=Path, default=HERE / "scored.csv")
    parser.add_argument("--sidecar-url", help="default: $DRIFTLINE_SIDECAR_URL")
    parser.add_argument("--chunk-size", type=int, default=250)
    args = parser.parse_args()

    driftline.configure(service_name="credit-batch-scoring", sidecar_url=args.sidecar_url)
    applicants = pd.read_csv(args.input)
    chunks = [
        score(applicants.loc[start : start + args.chunk_size - 1, list(FEATURES)])
        for start in range(0, len(applicants), args.chunk_size)
    ]
    scored = applicants.assign(default_probability=pd.concat(chunks))
    scored.to_csv(args.output, index=False)
    delivered = driftline.flush(timeout=30.0)
    driftline.shutdown()
    print(f"scored {len(scored)} applicants into {args.output}; records delivered: {delivered}")
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main())
