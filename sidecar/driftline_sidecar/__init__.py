"""The driftline sidecar: ingest, drift detection and alerting next to a model service."""
