"""What a store's git hooks run (``python -m gilgamesh.registry.hooks``); they are installed by
:mod:`gilgamesh.registry.store.hooks`.

``ROOT``: ``post-receive`` brings the registry at ROOT (index, blobs, ``api/*`` branches) up to
the refs just pushed. ``--check GIT_DIR``: ``pre-receive`` refuses a push whose new version tags
are not well-formed versions (registry/store/version_tree.py).
"""

from __future__ import annotations

import sys

from gilgamesh.registry.store.hooks import check_pushed_versions

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """``post-receive``: reconcile the registry at ROOT with its refs; ``--check GIT_DIR``
    (``pre-receive``): refuse a push whose new version tags are not well-formed versions."""
    argv = argv if argv is not None else sys.argv[1:]
    if argv[0] == "--check":
        refused = check_pushed_versions(argv[1], sys.stdin)
        for reason in refused:
            print(f"gilgamesh: {reason}", file=sys.stderr)
        return 1 if refused else 0
    from gilgamesh.registry.store.git_store import Store, writer_lock  # git: only for post-receive

    root = argv[0]
    with writer_lock(root):
        store = Store(root)
        store.settle()
        report = store.reconcile()
    added = sum(len(v) for v in report["versions"].values())
    if added or report["records"]:
        print(f"gilgamesh: {root}: {added} version(s) and {len(report['records'])} record change(s) adopted")
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the post-receive hook
    sys.exit(main())
