"""Behaviour replay, in the validation kernel: the golden calls of the example cells recorded, and
the predecessor's made again (docs/guide.md, "Behaviour replay"; :mod:`gilgamesh.registry.compat.replay`
says what is stored and replayed, :mod:`gilgamesh.registry.compat.verdict` what refuses a publish).

The runner installs the recorder with the silent line it runs before the first cell
(:func:`install_code`); :mod:`gilgamesh.registry.validation.kernel_probe` collects after the last
(:func:`collect`):

* while an ``example`` cell runs, each public function of the module (a plain, decorated or
  ``functools.partial`` one; not a class, not an ``async`` function) is bound in the user
  namespace to a recording wrapper; after the cell the namespace holds the function itself
  again. A call made by the example's code (not one public function calling another) is
  recorded: its arguments before the call, its result or the exception it raised, as
  :mod:`gilgamesh.registry.compare.golden_values` encodes them. Only those calls cost anything; at
  most :data:`MAX_CALLS` distinct calls a function, :data:`MAX_TOTAL_VALUES` values in all.
* after the last cell, each recorded call is made once more: one that does not give the same
  result again (it depends on state or chance) is dropped, so that it never refuses a successor.
  The predecessor's golden calls are made against the new code, in the same round trip.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time

from gilgamesh.registry.compare.golden_values import MAX_VALUES, Budget, Unrecordable, decode, encode

__all__ = ["install_code", "install", "collect", "MAX_CALLS", "MAX_TOTAL_VALUES"]

MAX_CALLS = 20  # distinct recorded calls kept for one function
MAX_TOTAL_VALUES = 100_000  # encoded values in all the golden calls of a version


def install_code(probe: dict | None) -> str:
    """The statement the runner adds to its first silent line: install the recorder (or nothing)."""
    job = (probe or {}).get("behaviour")
    if not job:
        return ""
    path = probe["out"] + ".behaviour.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"examples": job.get("examples", []), "facts": job.get("facts")}, f)
    return f"\n__import__('gilgamesh.registry.compat.record', fromlist=['install']).install(get_ipython(), {path!r})"


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


