"""Commands that make or run a registry site: init, sync, serve, token, kernel."""

from __future__ import annotations

import os
import sys

from gilgamesh.cli.common import Command, bounded, emit, local_root, registry_of


def cmd_init(args) -> int:
    from gilgamesh.registry.store.git_store import init_registry

    root = local_root(args, "init")
    adopted = init_registry(root).adopted
    if adopted is None:
        emit(args, {"registry": root, "created": True, "adopted": None}, f"Created registry at {root}")
        return 0
    new = sum(len(v) for v in adopted["versions"].values())
    total = len(adopted["apis"])
    lines = [f"Adopted the registry at {root}: {total} API{'s' if total != 1 else ''}"
             + (f", {new} version(s) newly indexed" if new else ", its index already current")]
    lines += [f"  {name}: {', '.join(versions)}" for name, versions in adopted["versions"].items()]
    if adopted["records"]:
        lines.append(f"  yank or deprecation brought up to date: {', '.join(adopted['records'])}")
    lines.append("  the hook refusing a push that moves or deletes a version tag is installed")
    emit(args, {"registry": root, "created": False, "adopted": adopted}, "\n".join(lines))
    return 0


def cmd_sync(args) -> int:
    report = registry_of(args).sync(args.source, push=args.push)
    lines = []
    for name, versions in report.adopted.items():
        lines.append(f"adopted {name}: {', '.join(versions)}")
    if report.records:
        lines.append(f"yank or deprecation merged: {', '.join(report.records)}")
    bib = report.bibliography
    if bib["added"]:
        lines.append(f"bibliography: {len(bib['added'])} entr{'y' if len(bib['added']) == 1 else 'ies'} added "
                     f"({', '.join(bib['added'])})")
    if report.pushed:
        lines.append(f"pushed {len(report.pushed)} ref(s) to {args.source}")
    if bib["pushed"]:
        lines.append(f"bibliography: {len(bib['pushed'])} entr{'y' if len(bib['pushed']) == 1 else 'ies'} sent "
                     f"to {args.source} ({', '.join(bib['pushed'])})")
    for c in report.conflicts:
        print(f"conflict: {c['name']}@{c['version']} differs at {args.source} (sha256 {c['theirs'][:12]}, "
              f"here {c['ours'][:12]}): this side's version kept, theirs kept apart at {c['kept_at']}",
              file=sys.stderr)
    for c in bib["conflicts"]:
        print(f"conflict: the bibliography entry {c['key']!r} differs at {args.source} ({c['theirs']}, here "
              f"{c['ours']}): this side's entry kept, theirs kept apart at {c['kept_at']}", file=sys.stderr)
    for r in report.refused + report.push_rejected:
        print(f"refused: {r['ref']}: {r['reason']}", file=sys.stderr)
    if not lines:
        lines.append(f"Nothing to sync: up to date with {args.source}" if report.ok else "Nothing else synced")
    emit(args, report.to_dict(), "\n".join(lines))
    return 0 if report.ok else 1


def cmd_serve(args) -> int:
    from gilgamesh.service.app import serve
    from gilgamesh.service.options import ServiceOptions

    options = ServiceOptions(  # refuses a pool ceiling below the warm workers before anything is written
        private=args.private, model_workers=args.model_workers, max_model_workers=args.max_model_workers,
        queue_limit=args.queue_limit, call_timeout=args.call_timeout, max_body_size=int(args.max_body_mb * 1024 * 1024),
        body_timeout=args.body_timeout, dask_scheduler=args.dask_scheduler).checked()
    root = local_root(args, "serve")
    if args.dask_scheduler:
        from gilgamesh.service.calls.dask import require_distributed

        require_distributed()
    if not os.path.isdir(os.path.join(root, "store.git")):
        from gilgamesh.registry.store.git_store import init_registry

        init_registry(root)
    serve(args.host, args.port, root, workers=args.workers, options=options)
    return 0


def cmd_token(args) -> int:
    from gilgamesh.registry.store import tokens

    root = local_root(args, "token")
    from gilgamesh.registry.store.reader import LocalReader

    LocalReader(root)  # a clear error if there is no registry
    if args.token_command == "create":
        token = tokens.create_token(root, args.user)
        if args.json:
            emit(args, {"user": args.user, "token": token})
        else:
            print(f"Created a token for {args.user}. It is shown once; only its hash is kept:")
            print(token)
    elif args.token_command == "remove":
        n = tokens.remove_user(root, args.user)
        emit(args, {"user": args.user, "revoked": n}, f"Removed {args.user} and revoked {n} token(s)")
    else:
        users = tokens.list_users(root)
        emit(args, users, "\n".join(f"{u:<24} {n} token(s)" for u, n in users.items()) or "No tokens.")
    return 0


def cmd_kernel(args) -> int:
    from gilgamesh.loader.kernelspec import install_kernel

    done = install_kernel(user=not (args.sys_prefix or args.prefix), prefix=sys.prefix if args.sys_prefix else args.prefix,
                          replace=args.replace)
    lines = [f"Installed the kernel '{done['display_name']}' ({done['name']}, running {done['python']}) in {done['path']}"]
    if done["kept"]:  # another environment's kernel holds the name: it stays, this one gets its own
        kept = done["kept"]
        lines.append(f"The kernel '{kept['name']}' in {kept['path']} runs another environment's Python, "
                     f"{kept['python']}: left as it is, so its notebooks still open there. `gilgamesh fork` in this "
                     f"environment names '{done['name']}'; `gilgamesh kernel install --replace` makes "
                     f"'{kept['name']}' run this environment instead.")
    if done["replaced"]:
        lines.append(f"It replaced the kernel '{done['name']}' that ran {done['replaced']}"
                     + ("" if args.replace else " (no longer there)") + ".")
    if done["shadowed_by"]:
        shadow = done["shadowed_by"]
        print(f"warning: Jupyter finds the kernel '{shadow['name']}' in {shadow['path']} first, which runs "
              f"{shadow['python']}: notebooks naming '{shadow['name']}' open there, not in this environment",
              file=sys.stderr)
    emit(args, done, "\n".join(lines))
    return 0



def _sync_arguments(p, common) -> None:
    p.add_argument("source", metavar="SOURCE", help="a registry directory, or a git://, http(s)://, ssh:// URL of its store")
    p.add_argument("--push", action="store_true", help="also send SOURCE what it lacks (never moves a tag there)")


def _serve_arguments(p, common) -> None:
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=bounded(int, 0, 65535), default=8765, help="port (default 8765)")
    p.add_argument("--workers", type=bounded(int, 1), default=1, help="server processes sharing the port (default 1)")
    from gilgamesh.service.options import ServiceOptions

    def option(flag: str, name: str, kind=None, metavar=None, default=None, extra: str = ""):
        """A flag of one of the service's options: its default and help are the option's own."""
        value = ServiceOptions.default(name) if default is None else default
        shown = "" if value is None else f" (default {value:g})" if isinstance(value, float) else f" (default {value})"
        p.add_argument(flag, type=kind, default=value, metavar=metavar, help=ServiceOptions.help(name) + extra + shown)

    p.add_argument("--private", action="store_true", help=ServiceOptions.help("private"))
    option("--model-workers", "model_workers", bounded(int, 1), "N")
    option("--max-model-workers", "max_model_workers", bounded(int, 1), "N")
    option("--queue-limit", "queue_limit", bounded(int, 0), "N")
    option("--call-timeout", "call_timeout", bounded(float, 0.001), "SECONDS")
    option("--max-body-mb", "max_body_size", bounded(float, 0.001), "MB", default=ServiceOptions.default("max_body_size") / 2**20,
           extra=" (in MB)")
    option("--body-timeout", "body_timeout", bounded(float, 0.001), "SECONDS")
    option("--dask-scheduler", "dask_scheduler", None, "ADDRESS",
           extra=" (tcp://host:8786; workers started with --preload gilgamesh.dask; needs gilgamesh[dask])")


def _token_arguments(p, common) -> None:
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION")
    tsub.required = True
    for action, help_text in (("create", "create a token for USER; printed once"),
                              ("remove", "remove USER and revoke all of their tokens")):
        tp = tsub.add_parser(action, parents=[common], help=help_text, description=help_text)
        tp.add_argument("user", metavar="USER")
        tp.set_defaults(command_parser=tp)
    tp = tsub.add_parser("list", parents=[common], help="list users holding tokens", description="list users holding tokens")
    tp.set_defaults(command_parser=tp)


def _kernel_arguments(p, common) -> None:
    ksub = p.add_subparsers(dest="kernel_command", metavar="ACTION")
    ksub.required = True
    kp = ksub.add_parser("install", parents=[common], help="install the kernelspec (default: for this user)",
                         description="install the Jupyter kernel 'Python 3 (Gilgamesh)' (default: for this user)")
    kp.set_defaults(command_parser=kp)
    kp.add_argument("--sys-prefix", action="store_true", help="install into this Python environment")
    kp.add_argument("--prefix", help="install under this prefix")
    kp.add_argument("--replace", action="store_true",
                    help="take the name 'gilgamesh' even where its kernel runs another environment's Python "
                         "(by default that one is kept and this environment's kernel is named gilgamesh-ENV)")


COMMANDS = [
    Command("init", cmd_init, "create a registry, or adopt one (or a git mirror of its store.git) and say what it holds",
            None),
    Command("sync", cmd_sync, "bring the versions, yanks and deprecations of another registry (no version moved or lost)",
            _sync_arguments),
    Command("serve", cmd_serve, "run the HTTP service (API, model endpoints, docs, web UI)", _serve_arguments),
    Command("token", cmd_token, "manage publish tokens (create USER, remove USER, list)", _token_arguments),
    Command("kernel", cmd_kernel, "install the Jupyter kernel 'Python 3 (Gilgamesh)'", _kernel_arguments),
]
