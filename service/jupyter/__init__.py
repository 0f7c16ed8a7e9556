"""The Jupyter server extension: the registry's read routes inside JupyterLab's own server.

``pip install 'gilgamesh[lab]'`` enables it (``etc/jupyter/jupyter_server_config.d/gilgamesh.json``)
beside the prebuilt lab extension ``gilgamesh-lab`` (``labextension/``). It serves, under
``{base_url}gilgamesh/``, what the registry panel reads: the APIs and their versions, one
version's resolution and its rendered documentation, the working copy of a fork, and the version
handshake with the lab extension. The registry is ``GILGAMESH_REGISTRY`` (a directory or the URL
of a ``gilgamesh serve``) of the environment Jupyter was started from, read through the registry
facade, so the browser needs no CORS and never holds a publish token. Jupyter's own
authentication guards every route; nothing here writes to the registry.
"""

from __future__ import annotations

from gilgamesh.service.jupyter.protocol import PROTOCOL, server_extension_version

__all__ = ["PROTOCOL", "server_extension_version", "_jupyter_server_extension_points",
           "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "gilgamesh.service.jupyter"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from gilgamesh.service.jupyter.handlers import setup_handlers

    location = setup_handlers(serverapp.web_app)
    serverapp.log.info("Gilgamesh %s: the registry %s at %sgilgamesh/", server_extension_version(), location,
                       serverapp.web_app.settings.get("base_url", "/"))
