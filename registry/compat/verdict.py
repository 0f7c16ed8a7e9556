"""Behaviour replay, the verdict: what the kernel sent back compared under the notebook's tolerance
(:func:`compare_calls`, in the validation runner), and the publish problems it makes
(:func:`behaviour_problems`): a successor whose results differ is refused, naming the function,
the call and both results, unless ``metadata.gilgamesh.changed`` names the function with a
reason; then the change is accepted and recorded with the version (``changed``).
"""

from __future__ import annotations

import json
import time

from gilgamesh.registry.compare.golden_values import same, show, size
from gilgamesh.registry.compat.record import MAX_CALLS, MAX_TOTAL_VALUES
from gilgamesh.registry.compat.replay import GOLDEN_FORMAT

__all__ = ["compare_calls", "changed_shape_problems", "behaviour_problems"]

_CALL_TEXT = 160  # characters of a call as a report shows it


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
