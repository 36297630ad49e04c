"""Grafana's template variables in PromQL, replaced as Grafana would before a query runs."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Grafana's own interval variables, at values that suit a short test.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
# Grafana leaves ``$1`` (a label_replace back-reference) alone: variable names start with a letter.
_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)|\$\{([A-Za-z_]\w*)\}")


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with every ``$name`` / ``${name}`` replaced; an unknown name raises KeyError."""
    table = {**BUILTINS, **values}
    return _VARIABLE.sub(lambda match: table[match.group(1) or match.group(2)], expr)
