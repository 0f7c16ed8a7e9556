"""Behaviour replay (README, Behaviour replay): golden calls recorded at publish, replayed on successors.

Signatures are not behaviour: a changed formula behind an unchanged signature breaks every caller
pinned to the line. So the calls the example cells make are recorded at publish, and a MINOR or
PATCH successor must give the same results.

In the validation kernel (the runner installs the recorder with the silent line it runs before
the first cell; :mod:`gilgamesh.registry.validation.kernel_probe` collects after the last):

* while an ``example`` cell runs, each public function of the module (a plain, decorated or
  ``functools.partial`` one; not a class, not an ``async`` function) is bound in the user
  namespace to a recording wrapper; after the cell the namespace holds the function itself
  again. A call made by the example's code (not one public function calling another) is
  recorded: its arguments before the call, its result or the exception it raised, as
  :mod:`gilgamesh.registry.compare.golden_values` encodes them. Only those calls cost anything; at most
  :data:`MAX_CALLS` distinct calls a function, :data:`MAX_TOTAL_VALUES` values in all.
* after the last cell, each recorded call is made once more: one that does not give the same
  result again (it depends on state or chance) is dropped, so that it never refuses a successor.
  The predecessor's golden calls are made against the new code, in the same round trip; those
  the new examples do not make themselves stay golden calls of the new version, with its results
  (so a function keeps its recorded behaviour along the line when the examples move on).

The runner compares what came back under the notebook's tolerance (:func:`compare_calls`). Publish
stores the golden calls in the version's tree (``golden.json``, its sha256 in ``gilgamesh.json``
under ``golden``) and refuses a successor whose results differ (:func:`behaviour_problems`),
unless ``metadata.gilgamesh.changed`` names the function with a reason: then the change is
accepted and recorded with the version (``changed``). Versions published before golden calls
existed have none: their successors replay nothing.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
import time

from gilgamesh.registry.compare.golden_values import MAX_VALUES, Budget, Unrecordable, decode, encode, same, show, size
from gilgamesh.registry.store.version_tree import GOLDEN

__all__ = [
    "install_code", "install", "collect", "compare_calls",
    "changed_shape_problems", "replay_source", "behaviour_job", "behaviour_problems", "golden_file",
    "GOLDEN_FILE", "MAX_CALLS", "MAX_TOTAL_VALUES",
]

GOLDEN_FILE = GOLDEN
GOLDEN_FORMAT = 1
MAX_CALLS = 20  # distinct recorded calls kept for one function
MAX_TOTAL_VALUES = 100_000  # encoded values in all the golden calls of a version
_CALL_TEXT = 160  # characters of a call as a report shows it


# -- in the validation kernel -----------------------------------------------------------------------

def install_code(probe: dict | None) -> str:
    """The statement the runner adds to its first silent line: install the recorder (or nothing)."""
    job = (probe or {}).get("behaviour")
    if not job:
        return ""
    path = probe["out"] + ".behaviour.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"examples": job.get("examples", []), "facts": job.get("facts")}, f)
    return f"\n__import__('gilgamesh.registry.compat.behaviour', fromlist=['install']).install(get_ipython(), {path!r})"


def install(shell, job_path: str) -> None:
    """Record the calls of the example cells from now on (see the module docstring)."""
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    recorder = _Recorder(shell, job)
    shell.gilgamesh_recorder = recorder
    shell.events.register("pre_run_cell", recorder.before)
    shell.events.register("post_run_cell", recorder.after)


def _is_function(obj) -> bool:
    if obj is None or isinstance(obj, type) or not callable(obj):
        return False
    if not (inspect.isroutine(obj) or isinstance(obj, functools.partial)):
        return False
    return not inspect.iscoroutinefunction(inspect.unwrap(obj) if inspect.isfunction(obj) else obj)


class _Recorder:
    """The golden calls of one validation run, as the example cells make them."""

    def __init__(self, shell, job: dict):
        self.shell = shell
        self.facts = job.get("facts") or {}
        self.examples: dict[str, int] = {}
        for number, source in job.get("examples", ()):
            self.examples.setdefault(source, number)
        self.calls: list[dict] = []
        self.keys: dict[str, dict] = {}  # the call's arguments as JSON -> the call first recorded
        self.kept: dict[str, int] = {}
        self.skipped: dict[str, dict[str, int]] = {}  # function -> {reason: calls}
        self.unstable: set[str] = set()
        self.values_left = MAX_TOTAL_VALUES
        self.wrapped: dict[str, tuple] = {}
        self.cell: int | None = None
        self.depth = 0
        self.thread = threading.get_ident()
        self.seconds = 0.0  # what encoding the calls cost the example cells (the report shows it)

    # IPython events: wrap before an example cell, unwrap after it.
    def before(self, info=None) -> None:
        cell = self.examples.get(getattr(info, "raw_cell", None))
        if cell is None:
            return
        from gilgamesh.registry.surface.live import public_names

        namespace = self.shell.user_ns
        for name in public_names(namespace, self.facts):
            function = namespace.get(name)
            if name not in self.unstable and _is_function(function):
                wrapper = self._wrap(name, function)
                namespace[name] = wrapper
                self.wrapped[name] = (function, wrapper)
        self.cell = cell

    def after(self, result=None) -> None:
        namespace = self.shell.user_ns
        for name, (function, wrapper) in self.wrapped.items():
            if namespace.get(name) is wrapper:  # the cell may have bound the name anew
                namespace[name] = function
        self.wrapped.clear()
        self.cell = None

    def _wrap(self, name: str, function):
        recorder = self

        def recording(*args, **kwargs):
            if recorder.depth or recorder.cell is None or threading.get_ident() != recorder.thread:
                return function(*args, **kwargs)
            pending = recorder.begin(name, args, kwargs)
            recorder.depth += 1
            try:
                result = function(*args, **kwargs)
            except Exception as e:
                recorder.depth -= 1
                recorder.end(pending, raised=e)
                raise
            except BaseException:
                recorder.depth -= 1
                raise
            recorder.depth -= 1
            recorder.end(pending, result)
            return result

        try:
            functools.update_wrapper(recording, function)
        except (AttributeError, TypeError):
            pass
        return recording

    def skip(self, name: str, reason: str, calls: int = 1) -> None:
        reasons = self.skipped.setdefault(name, {})
        reasons[reason] = reasons.get(reason, 0) + calls

    def begin(self, name: str, args: tuple, kwargs: dict) -> dict | None:
        """The call about to be made, its arguments encoded; None if it is not recorded."""
        started = time.perf_counter()
        try:
            return self._begin(name, args, kwargs)
        except Exception:  # noqa: BLE001 - recording never disturbs the notebook
            return None
        finally:
            self.seconds += time.perf_counter() - started

    def end(self, pending: dict | None, result=None, raised: BaseException | None = None) -> None:
        started = time.perf_counter()
        try:
            self._end(pending, result, raised)
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.seconds += time.perf_counter() - started

    def _begin(self, name: str, args: tuple, kwargs: dict) -> dict | None:
        if name in self.unstable:
            return None
        if self.kept.get(name, 0) >= MAX_CALLS:
            self.skip(name, f"beyond the first {MAX_CALLS} calls")
            return None
        budget = Budget(MAX_VALUES)
        try:
            call = {"function": name, "cell": self.cell, "args": [encode(a, budget) for a in args],
                    "kwargs": {k: encode(v, budget) for k, v in kwargs.items()}}
        except Unrecordable as e:
            self.skip(name, f"an argument is {e}")
            return None
        except Exception as e:  # noqa: BLE001 - a value that breaks on reading is not recorded
            self.skip(name, f"an argument could not be read ({type(e).__name__})")
            return None
        return {"call": call, "budget": budget, "key": json.dumps([name, call["args"], call["kwargs"]], sort_keys=True)}

    def _end(self, pending: dict | None, result, raised: BaseException | None) -> None:
        if pending is None:
            return
        call, budget = pending["call"], pending["budget"]
        name = call["function"]
        try:
            if raised is not None:
                call["raises"] = type(raised).__name__
            else:
                call["result"] = encode(result, budget, objects=True)
        except Unrecordable as e:
            self.skip(name, f"its result is {e}")
            return
        except Exception as e:  # noqa: BLE001
            self.skip(name, f"its result could not be read ({type(e).__name__})")
            return
        first = self.keys.get(pending["key"])
        if first is not None:  # the same arguments again: the same result, or the function is unstable
            if (first.get("result"), first.get("raises")) != (call.get("result"), call.get("raises")):
                self.drop(name, "it returned different results for the same arguments")
            return
        used = MAX_VALUES - budget.left
        if used > self.values_left:
            self.skip(name, f"the golden calls of the version reached their size limit ({MAX_TOTAL_VALUES} values)")
            return
        self.values_left -= used
        self.keys[pending["key"]] = call
        self.calls.append(call)
        self.kept[name] = self.kept.get(name, 0) + 1

    def drop(self, name: str, reason: str) -> None:
        """Forget every call of ``name`` and record no more of them."""
        dropped = [c for c in self.calls if c["function"] == name]
        self.calls = [c for c in self.calls if c["function"] != name]
        self.unstable.add(name)
        self.skip(name, reason, len(dropped) + 1)


def _replay_one(namespace: dict, call: dict) -> dict:
    """Make one golden call in ``namespace``: ``{"result"}``, ``{"raises", "message"}`` or why not."""
    function = namespace.get(call["function"])
    if not callable(function):
        return {"missing": True}
    try:
        args = [decode(a) for a in call["args"]]
        kwargs = {k: decode(v) for k, v in call["kwargs"].items()}
    except Exception as e:  # noqa: BLE001
        return {"missing": True, "why": f"its arguments could not be rebuilt ({e})"}
    try:
        result = function(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - whatever the code raises is its behaviour
        return {"raises": type(e).__name__, "message": str(e)[:200]}
    try:
        return {"result": encode(result, objects=True)}
    except Unrecordable as e:
        return {"unrecordable": str(e)}
    except Exception as e:  # noqa: BLE001
        return {"unrecordable": f"a value that could not be read ({type(e).__name__})"}


def collect(shell, job: dict | None) -> dict:
    """After the last cell: the recorded calls, each made again, and the predecessor's replayed."""
    out: dict = {}
    seconds: dict = {}
    namespace = shell.user_ns
    recorder = getattr(shell, "gilgamesh_recorder", None)
    if recorder is not None:
        recorder.after()
        for event, callback in (("pre_run_cell", recorder.before), ("post_run_cell", recorder.after)):
            try:
                shell.events.unregister(event, callback)
            except ValueError:
                pass
        out["golden"] = {"calls": recorder.calls, "skipped": recorder.skipped}
        started = time.perf_counter()
        out["rerun"] = [_replay_one(namespace, c) for c in recorder.calls]
        seconds.update(record=recorder.seconds, rerun=time.perf_counter() - started)
    replay = (job or {}).get("replay")
    if replay and replay.get("calls"):
        started = time.perf_counter()
        out["replayed"] = [_replay_one(namespace, c) for c in replay["calls"]]
        seconds["replay"] = time.perf_counter() - started
    out["behaviour_seconds"] = seconds
    return out


# -- in the validation runner: compare --------------------------------------------------------------

def _agrees(call: dict, got: dict, tolerance: float) -> bool:
    if "raises" in call:
        return got.get("raises") == call["raises"]
    return "result" in got and same(call["result"], got["result"], tolerance)


def _call_text(call: dict) -> str:
    parts = [show(a, 40) for a in call["args"]] + [f"{k}={show(v, 40)}" for k, v in call["kwargs"].items()]
    text = f"{call['function']}({', '.join(parts)})"
    return text if len(text) <= _CALL_TEXT else text[: _CALL_TEXT - 4] + "...)"


def _outcome_text(outcome: dict) -> str:
    if "raises" in outcome:
        message = outcome.get("message")
        return f"raised {outcome['raises']}" + (f" ({message[:80]})" if message else "")
    if "unrecordable" in outcome:
        return f"returned {outcome['unrecordable']}"
    return f"returned {show(outcome['result'])}"


def compare_calls(found: dict, probe: dict, tolerance: float) -> None:
    """Compare the calls the kernel made again with what they gave before, under ``tolerance``, and
    turn what it sent back into the report's ``golden`` and ``behaviour`` (in place).

    A predecessor's golden call that gives another result now is a difference
    (``behaviour["differences"]``, which publish refuses unless the function is declared changed).
    The new version's golden calls are its own (those that gave the same result when made again)
    and the predecessor's that still run, with the results the new code gave: a function the new
    examples no longer call keeps its recorded behaviour along the line.
    """
    job = probe.get("behaviour")
    if not job:
        return
    started = time.perf_counter()
    seconds = found.pop("behaviour_seconds", None) or {}
    _compare_calls(found, job, tolerance)
    if seconds and "behaviour" in found:  # the golden calls' own cost, in the kernel and here
        seconds["compare"] = time.perf_counter() - started
        found["behaviour"]["seconds"] = {k: round(v, 6) for k, v in seconds.items()}


def _compare_calls(found: dict, job: dict, tolerance: float) -> None:
    golden = found.pop("golden", None)
    rerun = found.pop("rerun", None) or []
    replayed = found.pop("replayed", None)
    summary: dict = {}
    inherited: list[dict] = []
    replay = job.get("replay")
    if replay and replay.get("calls"):
        summary["replayed"] = {"version": replay["version"], "calls": len(replay["calls"])}
        if replayed is None:
            summary["replay_error"] = found.get("probe_error") or found.get("behaviour_error") or "the replay did not run"
        else:
            differences, missing = [], 0
            for call, got in zip(replay["calls"], replayed):
                if got.get("missing"):
                    missing += 1  # a function that is gone: the semver check names it
                    continue
                recorded_in = call.get("recorded_in") or replay["version"]
                if not _agrees(call, got, tolerance):
                    differences.append({"function": call["function"], "cell": call.get("cell"), "version": recorded_in,
                                        "call": _call_text(call), "expected": _outcome_text(call), "got": _outcome_text(got)})
                if "result" in got or "raises" in got:
                    outcome = {"result": got["result"]} if "result" in got else {"raises": got["raises"]}
                    inherited.append({"function": call["function"], "cell": call.get("cell"), "recorded_in": recorded_in,
                                      "args": call["args"], "kwargs": call["kwargs"], **outcome})
            summary["replayed"]["missing"] = missing
            summary["differences"] = differences
    if golden is None:
        summary["error"] = found.get("probe_error") or found.get("behaviour_error") or "the recorder did not run"
        found["behaviour"] = summary
        return
    skipped = golden["skipped"]
    calls = []
    for call, again in zip(golden["calls"], rerun):
        if _agrees(call, again, tolerance):
            calls.append(call)
        else:
            reasons = skipped.setdefault(call["function"], {})
            reason = "it did not give the same result when called again after the last cell (state or chance)"
            reasons[reason] = reasons.get(reason, 0) + 1
    summary["recorded"] = _count(calls)
    calls += _inherit(calls, inherited)
    summary["inherited"] = _count([c for c in calls if "recorded_in" in c])
    found["golden"] = {"format": GOLDEN_FORMAT, "calls": calls, "skipped": skipped}
    summary["skipped"] = {name: sum(reasons.values()) for name, reasons in skipped.items()}
    summary["skipped_reasons"] = {name: sorted(reasons) for name, reasons in skipped.items()}
    found["behaviour"] = summary


def _count(calls: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call["function"]] = counts.get(call["function"], 0) + 1
    return counts


def _inherit(own: list[dict], inherited: list[dict]) -> list[dict]:
    """The predecessor's calls the new version keeps: not made by its own examples, within the limits."""
    keys = {json.dumps([c["function"], c["args"], c["kwargs"]], sort_keys=True) for c in own}
    kept = _count(own)
    left = MAX_TOTAL_VALUES - sum(size(c) for c in own)
    out = []
    for call in inherited:
        key = json.dumps([call["function"], call["args"], call["kwargs"]], sort_keys=True)
        n = size(call)
        if key in keys or kept.get(call["function"], 0) >= MAX_CALLS or n > left:
            continue
        keys.add(key)
        kept[call["function"]] = kept.get(call["function"], 0) + 1
        left -= n
        out.append(call)
    return out


# -- in publish ------------------------------------------------------------------------------------

def changed_shape_problems(meta: dict):
    """``metadata.gilgamesh.changed`` must be ``{"function_name": "reason"}``."""
    from gilgamesh.errors import Problem

    if "changed" not in meta:
        return []
    changed = meta["changed"]
    example = '{"analyze": "the fit now weights points by their error"}'
    if not isinstance(changed, dict):
        return [Problem("metadata", f"metadata.gilgamesh.changed must be an object naming each function whose "
                                    f"results changed on purpose with the reason, e.g. {example}")]
    bad = sorted(str(k) for k, v in changed.items() if not (isinstance(v, str) and v.strip()))
    if bad:
        return [Problem("metadata", f"metadata.gilgamesh.changed: {', '.join(bad)} need{'s' if len(bad) == 1 else ''} "
                                    f"a reason (a non-empty string), e.g. {example}")]
    return []


def _compatible_line(old: str, new: str) -> bool:
    """Whether ``new`` promises ``old``'s behaviour: a MINOR or PATCH successor (PATCH on 0.x)."""
    from gilgamesh.registry.compat.semver import BUMPS, bump_of, effective_bump

    made = bump_of(old, new)
    return BUMPS.index(made) < BUMPS.index(effective_bump("major", old))


def replay_source(store, name: str, version: str) -> dict | None:
    """The predecessor's golden calls a successor replays: ``{"version", "sha256", "calls"}``, or None.

    None when there is no predecessor in the same line (a MAJOR bump promises nothing), or when it
    was published without golden calls (before they existed, or none could be recorded).
    """
    from gilgamesh.errors import GilgameshError, IntegrityError

    try:
        predecessor = store.version_set(name).predecessor(version)
    except GilgameshError:
        return None
    if predecessor is None or not _compatible_line(predecessor, version):
        return None
    golden = store.read_metadata(name, predecessor).get("golden") or {}
    if not golden.get("sha256"):
        return None
    data = store.read_version_file(name, predecessor, GOLDEN_FILE)
    if hashlib.sha256(data).hexdigest() != golden["sha256"]:
        raise IntegrityError(f"integrity check failed for the golden calls of {name}@{predecessor}: "
                             "the stored copy was altered or damaged")
    return {"version": predecessor, "sha256": golden["sha256"], "calls": json.loads(data)["calls"]}


def behaviour_job(nb, facts: dict, source: dict | None) -> dict:
    """What the validation kernel needs: the example cells, the static facts, the calls to replay."""
    examples = [[c.number, c.source] for c in nb.cells if c.kind == "code" and not c.runs_on_import and c.source.strip()]
    job: dict = {"examples": examples, "facts": facts}
    if source is not None:
        job["replay"] = source
    return job


def golden_file(golden: dict | None) -> bytes | None:
    """The bytes of ``golden.json`` (None when nothing was recorded)."""
    if not golden or not golden.get("calls"):
        return None
    return (json.dumps(golden, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def golden_metadata(data: bytes, golden: dict) -> dict:
    """What ``gilgamesh.json`` says about the golden calls: the file's sha256 and what it holds."""
    recorded: dict[str, int] = {}
    for call in golden["calls"]:
        recorded[call["function"]] = recorded.get(call["function"], 0) + 1
    return {"file": GOLDEN_FILE, "sha256": hashlib.sha256(data).hexdigest(), "calls": len(golden["calls"]),
            "functions": recorded}


def _next_major(version: str) -> str:
    from gilgamesh.versions import Version, next_version

    return next_version(version, "major" if Version(version).major > 0 else "minor")


def behaviour_problems(nb, snapshot: dict, record: dict | None, source: dict | None, name: str,
                       version: str) -> tuple[list, dict]:
    """Step 3b's findings: ``(problems, changed)``; ``changed`` is the accepted changes, by function:
    ``{"reason", "differences", "replayed", "example"}``, stored with the version."""
    from gilgamesh.errors import Problem

    declared = nb.metadata.get("changed")
    declared = declared if isinstance(declared, dict) and not changed_shape_problems(nb.metadata) else {}
    functions = sorted(n for n, e in snapshot.items() if e.get("kind") == "function")
    problems = []
    unknown = sorted(set(declared) - set(functions))
    if unknown:
        problems.append(Problem("behaviour", f"metadata.gilgamesh.changed names {', '.join(unknown)}, "
                                f"{'which is not a public function' if len(unknown) == 1 else 'which are not public functions'} "
                                f"of {name}@{version} (its public functions: {', '.join(functions) or 'none'})"))
    summary = (record or {}).get("behaviour") or {}
    if source is not None and record is not None and record.get("passed"):
        where = f"{name}@{source['version']}"
        error = summary.get("replay_error") or (None if "differences" in summary else summary.get("error") or "the replay did not run")
        if error:
            problems.append(Problem("behaviour", f"the golden calls of {where} could not be replayed: {error}"))
    by_function: dict[str, list] = {}
    for d in summary.get("differences", ()):
        by_function.setdefault(d["function"], []).append(d)
    replayed = {}
    for call in (source or {}).get("calls", ()):
        replayed[call["function"]] = replayed.get(call["function"], 0) + 1
    changed = {}
    for function, differences in sorted(by_function.items()):
        first = differences[0]
        example = f"{first['call']} {first['expected']} in {source['version']}, now {first['got'].removeprefix('returned ')}"
        if function in declared:
            changed[function] = {"reason": declared[function].strip(), "differences": len(differences),
                                 "replayed": replayed.get(function, 0), "example": example}
            continue
        count = f"{len(differences)} of its {replayed.get(function, 0)} golden calls differ"
        problems.append(Problem(
            "behaviour",
            f"{function} behaves differently from {name}@{source['version']} ({count}): {example}"
            + (f" (recorded in cell {first['cell']} of {first.get('version') or source['version']})" if first.get("cell") else "")
            + f". A MINOR or PATCH release keeps the results its callers rely on: publish the change as "
              f"{_next_major(source['version'])}, or, if it is intended (a fix), name the function with a reason in "
              f'metadata.gilgamesh.changed, e.g. {{"{function}": "why the result changed"}}',
        ))
    for function in sorted(set(declared) & set(functions) - set(changed)):
        changed[function] = {"reason": declared[function].strip(), "differences": 0,
                             "replayed": replayed.get(function, 0), "example": None}
    return problems, changed
