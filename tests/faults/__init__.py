"""Fault tests (issue #7): the sidecar killed, hung, slow or failing; Alertmanager down; the state
directory full or read-only; the wall clock jumping. docs/reliability.md cites each test."""
