"""driftline: observability for machine-learning models in production."""
