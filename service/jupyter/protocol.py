"""What the handshake compares: this release, and the protocol (the shape of the routes).

A lab extension speaking another protocol is refused by the handshake; one of another release
that speaks this one is told so, and works. ``labextension/src/handshake.ts`` holds the lab
extension's side (a test keeps the two PROTOCOLs and the releases equal).
"""

from __future__ import annotations

__all__ = ["PROTOCOL", "server_extension_version"]

PROTOCOL = 1


def server_extension_version() -> str:
    """The installed Gilgamesh release (the lab extension is built from the same sources)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gilgamesh")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
        return "0+unknown"
