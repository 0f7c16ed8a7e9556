"""The git hooks of a store: a plain ``git push`` may add versions, never move or delete one.

``pre-receive`` runs once for a push, before any ref changes: it refuses the whole push if a new
version tag points at a commit that is not a well-formed version (registry/store/version_tree.py: the
files a version holds, each matching the sha256 its metadata records), by running ``python -m
gilgamesh.registry.hooks --check GIT_DIR`` with the Python that installed it. ``update`` runs for
each ref a push would change, before it changes: it refuses a version tag
(``refs/tags/<name>/v<version>``) that exists already (a move, even with ``--force``) or would be
deleted, and a record log (``refs/records/*``) that would lose records (deleted, or not a
fast-forward). ``post-receive`` then brings the registry's derived state (index, blobs, ``api/*``
branches) up to the pushed refs, by running ``python -m gilgamesh.registry.hooks ROOT`` with the
Python that installed it; without that Python the next ``sync`` or ``init`` does it.

Run ``gilgamesh init`` on a store to (re)install them; they are plain ``sh``. The Python they run
is :mod:`gilgamesh.registry.hooks`, a command above the store.
"""

from __future__ import annotations

import os
import shlex
import sys

from gilgamesh.files import atomic_write

__all__ = ["install_hooks", "check_pushed_versions", "UPDATE_HOOK"]

UPDATE_HOOK = r"""#!/bin/sh
# Installed by gilgamesh: published versions never change, so a push may not move or delete a
# version tag, nor drop records from the record log.
ref="$1" old="$2" new="$3"
zero() { case "$1" in *[!0]*) return 1 ;; *) return 0 ;; esac; }
case "$ref" in
  refs/tags/*/v*)
    if ! zero "$old"; then
      if zero "$new"; then what="delete"; else what="move"; fi
      echo "gilgamesh: refusing to $what the version tag ${ref#refs/tags/}: a published version never changes" >&2
      echo "gilgamesh: publish a new version instead (use 'gilgamesh sync' to merge registries)" >&2
      exit 1
    fi ;;
  refs/records/*)
    if zero "$new"; then
      echo "gilgamesh: refusing to delete $ref: yanks and deprecations are never dropped" >&2
      exit 1
    fi
    if ! zero "$old" && ! git merge-base --is-ancestor "$old" "$new"; then
      echo "gilgamesh: refusing to rewrite $ref: it would drop records; run 'gilgamesh sync' to merge them" >&2
      exit 1
    fi ;;
esac
exit 0
"""

POST_RECEIVE_HOOK = r"""#!/bin/sh
# Installed by gilgamesh: bring the registry's index up to the versions just pushed.
python=@PYTHON@
root=$(cd .. && pwd)
unset GIT_DIR GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
if [ -x "$python" ] && [ -d "$root/index" ]; then
  "$python" -m gilgamesh.registry.hooks "$root" >&2 || echo "gilgamesh: the index of $root is behind; run 'gilgamesh init' there" >&2
fi
exit 0
"""


PRE_RECEIVE_HOOK = r"""#!/bin/sh
# Installed by gilgamesh: a pushed version tag must point at a well-formed version.
python=@PYTHON@
if [ -x "$python" ]; then
  exec "$python" -m gilgamesh.registry.hooks --check "$(pwd)"
fi
cat >/dev/null
exit 0
"""


def install_hooks(git_dir: str, python: str | None = None) -> None:
    """Write the hooks into ``git_dir/hooks`` (replacing earlier ones of ours)."""
    hooks = os.path.join(git_dir, "hooks")
    os.makedirs(hooks, exist_ok=True)
    quoted = shlex.quote(python or sys.executable)
    for name, text in (("update", UPDATE_HOOK), ("pre-receive", PRE_RECEIVE_HOOK.replace("@PYTHON@", quoted)),
                       ("post-receive", POST_RECEIVE_HOOK.replace("@PYTHON@", quoted))):
        atomic_write(os.path.join(hooks, name), text.encode(), 0o755)


def check_pushed_versions(git_dir: str, lines) -> list[str]:
    """``pre-receive``: why each new version tag of a push (``old new ref`` lines) is not a version."""
    import git

    from gilgamesh.registry.store.derive import TAGS, is_version_tag
    from gilgamesh.registry.store.version_tree import BadVersionTree, check_tree, read_tree

    refused = []
    repo = git.Repo(git_dir)  # reads through git, which sees the push's quarantined objects
    try:
        for line in lines:
            parts = line.split()
            if len(parts) != 3 or not is_version_tag(parts[2]) or set(parts[1]) == {"0"}:
                continue
            ref = parts[2]
            name, _, version = ref[len(TAGS):].partition("/v")
            try:
                check_tree(read_tree(repo.commit(parts[1])), name, version)
            except (BadVersionTree, ValueError) as e:
                refused.append(f"refusing the version tag {ref[len(TAGS):]}: {e}")
    finally:
        repo.close()
    return refused
