"""Grafana dashboards for driftline: Python sources in src/, generated JSON beside this file."""
