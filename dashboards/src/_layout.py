"""Final touches on a built dashboard: rows expanded in place and unique panel ids."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

__all__ = ["finish"]


def finish(board: Dashboard) -> Dashboard:
    """Return ``board`` with every row expanded and panels numbered 1, 2, ... in order.

    The SDK nests a row's panels inside it, which Grafana reads as a collapsed
    row; an expanded row has its panels after it at the top level instead (their
    grid positions are already computed by the builder).
    """
    flat: list[Panel | RowPanel] = []
    for item in board.panels or []:
        flat.append(item)
        if isinstance(item, RowPanel):
            flat.extend(item.panels)
            item.panels = []
            item.collapsed = False
    for number, item in enumerate(flat, start=1):
        item.id_val = number
    board.panels = flat
    return board
