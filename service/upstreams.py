"""Read-only sites stay current: ``gilgamesh serve`` pulls its ``upstreams`` every ``sync_interval``.

``settings.json``::

    {"upstreams": ["git://lab-a.example/registry/store.git", "/mnt/lab-b/registry"],
     "sync_interval": 300}

Each upstream is synced (registry/sync.py, pull only) in the service's blocking executor, one
after another; the index files it changes are replaced in place, so the service and its warm
model workers see the new versions at the next request. A failing upstream (unreachable, a
conflict) is logged and tried again at the next interval; it never stops the service. The
settings are re-read every round, so an edit takes effect without a restart.
"""

from __future__ import annotations

import asyncio
import logging

from gilgamesh.errors import GilgameshError
from gilgamesh.registry.store.settings import SETTINGS, read_settings

__all__ = ["upstream_settings", "keep_current"]

log = logging.getLogger("gilgamesh.service.upstreams")


def upstream_settings(root: str) -> tuple[list[str], float]:
    """``(upstreams, sync_interval)`` from the registry's settings (the settings table checks them)."""
    settings = read_settings(root)
    return settings["upstreams"], float(settings["sync_interval"])


async def keep_current(root: str, run_blocking) -> None:
    """Sync from every upstream, then sleep ``sync_interval``; for ever (cancel to stop)."""
    from gilgamesh.registry.sync import sync

    while True:
        try:
            upstreams, interval = upstream_settings(root)
        except GilgameshError as e:
            log.error("%s; upstream sync paused", e)
            upstreams, interval = [], float(SETTINGS["sync_interval"].default)
        for upstream in upstreams:
            try:
                report = await run_blocking(sync, root, upstream)
            except GilgameshError as e:
                log.warning("sync from %s failed: %s", upstream, e)
                continue
            added = sum(len(v) for v in report.adopted.values())
            if added or report.records:
                log.info("synced from %s: %d version(s), %d record change(s)", upstream, added, len(report.records))
            for c in report.conflicts:
                log.warning("sync from %s: conflict on %s@%s (this side's version kept, theirs at %s)",
                            upstream, c["name"], c["version"], c["kept_at"])
        await asyncio.sleep(interval)
