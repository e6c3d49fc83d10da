"""Sweeps: a grid of cells (train + evaluate + simulate) on a process pool or a Ray cluster.

Usage::

    meta-bayes sweep SPEC --out DIR [--backend local|ray|serial] [--address ADDR] [--workers N] [--report]
                     [--dry-run]

SPEC is a YAML or TOML file (see :mod:`benchmarks.sweep_spec`) naming tasks, algorithms,
seeds, hyperparameters and budgets; every combination is a :class:`~benchmarks.cells.Cell`
run into its own folders under DIR (``runs/<cell>``, ``results/<cell>.json``,
``figures/<cell>``, ``logs/<cell>.log``).

Backends:

- ``local`` (the default): a process pool on this machine, ``--workers`` processes (default:
  the cores over the SPEC's ``threads`` per cell). Workers are started with ``spawn``, so no
  process inherits torch's thread pool from another, and in their own process group: Ctrl-C
  (or SIGTERM) reaches the driver, which passes it on once to the running cells; they write
  their checkpoints, and the same command resumes the sweep.
- ``ray``: the same jobs as Ray tasks of ``threads`` CPUs each, on the cluster at
  ``--address`` (``ray.init(address=...)``; ``auto`` finds a running one) or, without an
  address, on a Ray instance started on this machine for the sweep. ``pip install
  "meta-bayes[ray]"``. Every node needs meta-bayes installed, and DIR should be a path all
  nodes share (a network file system) for the run folders to land in one place; the records
  come back to the driver and are written into DIR in any case. An address that does not
  answer within :data:`CONNECT_TIMEOUT` seconds is refused before anything is submitted.
- ``serial``: the cells one after another in this process (debugging; the baseline of
  :mod:`benchmarks.sweep_scaling`).

A cell whose record holds every step is skipped on a rerun, so a rerun of the same command
resumes an interrupted sweep (unfinished training runs from their checkpoints) and a SPEC that
grows only runs its new cells. A cell that fails is retried once; if it fails again its error
and traceback are reported (in ``results.json`` and ``failed/<cell>.json``) and the other
cells go on. A pool worker that dies (killed, out of memory) takes the cells running beside it
down too: they run again one at a time, uncharged, so only the cell that kills its worker uses
up its retry. The results: ``DIR/results.json`` (every record, and per config the mean and 95%
confidence interval of each metric across seeds, :mod:`benchmarks.sweep_results`) and
``DIR/table.md``; ``--report`` (or later ``meta-bayes report DIR``) also writes the study's
report with its figures. The same seed gives the same numbers on every backend: a cell's
result depends only on the cell (its ``threads`` included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from bayes.files import check_folder, make_folder, write_json, write_text
from benchmarks.cells import Cell, cell_finished, read_record, record_path, run_cell, versions
from benchmarks.sweep_spec import SweepSpec, load_spec

__all__ = ["BACKENDS", "CONNECT_TIMEOUT", "attempt_cell", "check_backend", "check_ray_address", "default_workers",
           "run_cells", "sweep"]

BACKENDS = ("local", "ray", "serial")
CONNECT_TIMEOUT = 5.0  #: seconds to wait for a Ray cluster's address to answer
RETRIES = 1  #: a failed cell runs again this many times before it is reported
MANIFEST = "sweep.json"


# ------------------------------------------------------------------------------ one attempt


def _logger(out: Path, cell: Cell, echo: bool) -> Callable[[str], None]:
    path = out / "logs" / f"{cell.name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        with path.open("a") as f:
            f.write(line + "\n")
        if echo:
            print(f"[{cell.name}] {message}" if not message.startswith("[") else message, file=sys.stderr,
                  flush=True)

    return log


def attempt_cell(cell_data: dict[str, Any], out: str, echo: bool = True) -> dict[str, Any]:
    """Run one cell in this process, as a pool worker or a Ray task does.

    Returns ``{"name", "ok": True, "record"}``, or on failure ``{"name", "ok": False, "error",
    "traceback"}``: an exception in the cell comes back as data, never raised, so that the sweep
    goes on. Ctrl-C (``KeyboardInterrupt``) is raised: the trainers write their checkpoint first.
    Torch, numpy's BLAS and OpenMP run on the cell's ``threads`` (restored afterwards), so that
    cells side by side do not oversubscribe the cores.
    """
    cell = Cell(**cell_data)
    folder = Path(out)
    log = _logger(folder, cell, echo)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    limits = threadpool_limits(cell.threads)  # numpy's BLAS and OpenMP: no oversubscribed cores
    if cell.threads is not None:
        torch.set_num_threads(cell.threads)
    log(f"attempt in process {os.getpid()} on {socket.gethostname()}")
    try:
        return {"name": cell.name, "ok": True, "record": run_cell(cell, folder, log)}
    except Exception as exc:
        log(f"failed: {type(exc).__name__}: {exc}")
        return {"name": cell.name, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}
    finally:
        limits.restore_original_limits()
        torch.set_num_threads(threads)
        if main:
            signal.signal(signal.SIGINT, previous)


def _worker_init() -> None:
    """A pool worker leaves the terminal's process group, so Ctrl-C reaches the driver alone, which
    passes it on once to the busy workers; idle, a worker ignores it (:func:`attempt_cell` listens)."""
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ---------------------------------------------------------------------------------- backends


class _Serial:
    """The cells one after another in this process."""

    def __init__(self, out: str) -> None:
        self.out = out

    def submit(self, cell: Cell) -> Future:
        future: Future = Future()
        future.set_result(attempt_cell(cell.as_dict(), self.out))
        return future

    def interrupt(self, running: Sequence[Future]) -> None:
        pass

    def close(self) -> None:
        pass


class _Local:
    """A process pool of ``workers`` spawned processes (a new pool if a worker dies)."""

    def __init__(self, out: str, workers: int) -> None:
        self.out, self.workers = out, workers
        self.pool = self._pool()

    def _pool(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)

    def submit(self, cell: Cell) -> Future:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.pool.submit(attempt_cell, cell.as_dict(), self.out)
        except BrokenProcessPool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._pool()
            return self.pool.submit(attempt_cell, cell.as_dict(), self.out)

    def interrupt(self, running: Sequence[Future]) -> None:
        """Pass Ctrl-C on, once, to the workers, so that the running cells write their checkpoints
        (idle workers ignore it); a worker still busy two minutes later is terminated."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values())  # gone after shutdown
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        _, busy = wait(running, timeout=120)
        if busy:
            for process in processes:
                process.terminate()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def check_ray_address(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """``ConnectionError`` unless ``host:port`` (or ``ray://host:port``) accepts a connection within
    ``timeout`` seconds; ``auto`` and ``local`` are left to Ray."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--address must be host:port, ray://host:port or auto, got {address!r}")
    advice = ("is it running (`ray start --head` on its head node) and is the port open? Leave out --address to "
              "start Ray on this machine.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(f"cannot reach the Ray cluster at {address} within {timeout:.0f} s ({exc}): "
                              f"{advice}") from exc
    if not address.startswith("ray://"):
        _check_gcs(address, timeout, advice)


def _check_gcs(address: str, timeout: float, advice: str) -> None:
    """``ConnectionError`` unless a gRPC server (a Ray head's GCS) answers at ``address`` within ``timeout``.

    A port that accepts connections is not enough: a proxy or another service may hold it, and
    ``ray.init`` then retries for about 20 s before it gives up. Any reply of a gRPC server
    (even "unauthenticated") is accepted; no reply, or an HTTP error from a non-gRPC server, is not.
    """
    try:
        import grpc
    except ImportError:  # the ray extra installs it; without it only the port was checked
        return
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        channel.unary_unary("/ray.rpc.NodeInfoGcsService/GetClusterId")(b"", timeout=timeout)
    except grpc.FutureTimeoutError as exc:
        raise ConnectionError(f"no Ray cluster answers at {address}: nothing there spoke gRPC within {timeout:.0f} s: "
                              f"{advice}") from exc
    except grpc.RpcError as exc:
        details = exc.details() or ""
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED and os.environ.get("RAY_AUTH_MODE") != "token":
            raise ConnectionError(f"the Ray cluster at {address} asks for token authentication: set "
                                  "RAY_AUTH_MODE=token and give the cluster's token (RAY_AUTH_TOKEN, or the file "
                                  "~/.ray/auth_token)") from exc
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or \
                details.startswith("Received http2 header with status"):
            raise ConnectionError(f"no Ray cluster answers at {address} ({exc.code().name}: {details}): "
                                  f"{advice}") from exc
    finally:
        channel.close()


class _Ray:
    """Ray tasks of ``threads`` CPUs each, on a cluster or a Ray instance started here."""

    def __init__(self, out: str, address: str | None, workers: int | None, threads: int) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ValueError('the ray backend needs Ray: pip install "meta-bayes[ray]"') from exc
        self.ray = ray
        self.out = out
        self.started = False
        if not ray.is_initialized():
            if address is not None:
                check_ray_address(address)
                try:
                    ray.init(address=address, logging_level="WARNING")
                except (ConnectionError, RuntimeError) as exc:
                    raise ConnectionError(f"Ray could not join the cluster at {address}: {exc}") from exc
            else:
                ray.init(num_cpus=workers * threads if workers else None, include_dashboard=False,
                         logging_level="WARNING", object_store_memory=200 * 2**20)
            self.started = True
        self.remote = ray.remote(num_cpus=threads)(attempt_cell)
        self.refs: dict[Future, Any] = {}

    def submit(self, cell: Cell) -> Future:
        ref = self.remote.remote(cell.as_dict(), self.out)
        future = ref.future()
        self.refs[future] = ref
        return future

    def interrupt(self, running: Sequence[Future]) -> None:
        for future in running:
            if future in self.refs:
                self.ray.cancel(self.refs[future])  # KeyboardInterrupt in the task: it checkpoints
        wait(running, timeout=120)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


# --------------------------------------------------------------------------------- the sweep


def _outcome(future: Future, cell: Cell) -> dict[str, Any]:
    """The attempt's result; ``crashed`` when its worker process died (the whole pool breaks then)."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the worker died (BrokenProcessPool), Ray's own errors, ...
        return {"name": cell.name, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc)), "crashed": isinstance(exc, BrokenProcessPool)}


def _schedule(cells: Sequence[Cell], backend: Any, limit: int, log: Callable[[str], None],
              on_finish: Callable[[Cell, dict[str, Any]], None]) -> dict[str, dict[str, Any]]:
    """Run ``cells`` with at most ``limit`` in flight; a failed cell goes back to the queue once.

    A worker process that dies (killed, out of memory) breaks the pool and every cell in flight
    with it. Those cells are not charged an attempt: they run again one at a time, so that the
    cell that kills its worker is the only one charged. Returns the failures (cell name ->
    outcome of the last attempt, with ``attempts``)."""
    queue = deque((cell, 1) for cell in cells)
    alone: deque[tuple[Cell, int]] = deque()  # in flight when a worker died: one at a time
    running: dict[Future, tuple[Cell, int, bool]] = {}
    failed: dict[str, dict[str, Any]] = {}
    total, finished = len(cells), 0
    try:
        while queue or alone or running:
            if alone and not running:
                cell, n = alone.popleft()
                running[backend.submit(cell)] = (cell, n, True)
            while not alone and queue and len(running) < limit:
                cell, n = queue.popleft()
                running[backend.submit(cell)] = (cell, n, False)
            completed, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in completed:
                cell, n, solo = running.pop(future)
                outcome = _outcome(future, cell)
                if outcome["ok"]:
                    finished += 1
                    failed.pop(cell.name, None)
                    on_finish(cell, outcome["record"])
                    log(f"cell {cell.name} finished ({finished}/{total})")
                elif outcome.get("crashed") and not solo:
                    log(f"cell {cell.name}: a worker process died ({outcome['error']}); the cells that were "
                        "running run again one at a time, to find the one that kills its worker")
                    alone.append((cell, n))
                elif n <= RETRIES:
                    log(f"cell {cell.name} failed ({outcome['error']}); trying it again")
                    (alone if outcome.get("crashed") else queue).append((cell, n + 1))
                else:
                    failed[cell.name] = {**outcome, "attempts": n}
                    log(f"cell {cell.name} failed {n} times, the last with {outcome['error']}; the others go on")
    except KeyboardInterrupt:
        log(f"interrupted: waiting for {len(running)} running cells to write their checkpoints")
        backend.interrupt(list(running))
        raise
    return failed


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a job scheduler's stop) interrupts the sweep as Ctrl-C does, checkpoints included."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_backend(backend: str, workers: int | None, address: str | None) -> None:
    """``ValueError`` naming the flag for an unknown backend, a bad ``--workers`` or a misplaced ``--address``."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {BACKENDS}, got {backend!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"--workers must be an int >= 1, got {workers!r}")
    if address is not None and backend != "ray":
        raise ValueError(f"--address applies to --backend ray, not {backend}")


def default_workers(backend: str, workers: int | None, threads: int) -> int | None:
    """Cells at a time: ``workers``, or on the local backend the cores over ``threads`` per cell."""
    if workers is None and backend == "local":
        return max(1, (os.cpu_count() or 1) // threads)
    return workers


def run_cells(cells: Sequence[Cell], folder: Path, backend: str, address: str | None, workers: int | None,
              threads: int, log: Callable[[str], None],
              on_finish: Callable[[Cell, dict[str, Any]], None] | None = None,
              started: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run ``cells`` into ``folder`` on ``backend`` (``workers`` at a time, ``threads`` CPUs per Ray
    task); returns the failures (cell name -> last outcome, also written to ``failed/<cell>.json``).

    The backend starts (Ray joins its cluster, or raises ``ConnectionError``) before ``started()``
    is called and anything is written. Each finished record is written into ``folder`` (it may
    come from a Ray node that does not share it), then ``on_finish(cell, record)`` is called.
    Ctrl-C or SIGTERM: the running cells write their checkpoints, then ``KeyboardInterrupt``.
    """
    runner: Any = None
    if cells:
        if backend == "serial":
            runner = _Serial(str(folder))
        elif backend == "local":
            runner = _Local(str(folder), workers or 1)
        else:
            runner = _Ray(str(folder), address, workers, threads)

    def finish(cell: Cell, record: dict[str, Any]) -> None:
        write_json(record_path(folder, cell.name), record)
        if on_finish is not None:
            on_finish(cell, record)

    failed: dict[str, dict[str, Any]] = {}
    try:
        if started is not None:
            started()
        if runner is not None:
            with _terminate_as_interrupt():
                failed = _schedule(cells, runner, workers or len(cells), log, finish)
    finally:
        if runner is not None:
            runner.close()
    for name, outcome in failed.items():
        write_json(folder / "failed" / f"{name}.json", outcome)
    return failed


def _check_folder(out: Path) -> None:
    """Refuse a folder that holds something other than a sweep (its cells' records are checked as
    they are read: :func:`~benchmarks.cells.read_record` refuses one made with other settings)."""
    check_folder(out, "--out")
    manifest = out / MANIFEST
    if not manifest.exists() and out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no sweep (no {MANIFEST}): use another --out")


def sweep(spec: str | Path | SweepSpec, out: str | Path, backend: str = "local", address: str | None = None,
          workers: int | None = None, log: Callable[[str], None] = print, report: bool = False,
          dry_run: bool = False) -> dict[str, Any]:
    """Run every cell of ``spec`` not yet finished in ``out``; returns the content of ``results.json``.

    ``dry_run``: check everything, log each cell and whether it is finished, and return the plan
    (``{"cells": [...], "todo": [names]}``) without running or writing anything.

    ``workers``: cells at a time (local default: the cores over the SPEC's threads per cell;
    Ray default: as many as the cluster's CPUs allow). Raises ``ValueError`` (a bad SPEC names
    its line and key) or ``ConnectionError`` (an unreachable Ray address) before any cell runs.
    """
    check_backend(backend, workers, address)
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    folder = Path(out).resolve()
    _check_folder(folder)
    todo = [c for c in spec.cells if not cell_finished(read_record(folder, c), c)]  # every record read and checked
    threads = max(c.threads or 1 for c in spec.cells)
    workers = default_workers(backend, workers, threads)
    log(f"sweep {spec.name}: {len(spec.cells)} cells in {len(spec.configs)} configs; {len(spec.cells) - len(todo)} "
        f"already finished, {len(todo)} to run on the {backend} backend"
        + (f" ({workers} at a time)" if workers else ""))
    if dry_run:
        waiting = {c.name for c in todo}
        for cell in spec.cells:
            log(f"  {'to run  ' if cell.name in waiting else 'finished'}  {cell.name}")
        return {"kind": "plan", "cells": [c.as_dict() for c in spec.cells], "todo": [c.name for c in todo]}
    start = time.perf_counter()

    def finish(cell: Cell, record: dict[str, Any]) -> None:
        (folder / "failed" / f"{cell.name}.json").unlink(missing_ok=True)

    def started() -> None:
        make_folder(folder, "--out")
        write_json(folder / MANIFEST, {"name": spec.name, "spec": str(spec.source), "data": spec.data})

    failed = run_cells(todo, folder, backend, address, workers, threads, log, finish, started)
    results = collect(folder, spec, failed, time.perf_counter() - start, backend, workers)
    if report and results["results"]:
        from benchmarks.report import write_report

        write_report(folder, results, log)
    log(f"{len(results['results'])} of {len(spec.cells)} cells finished, {len(failed)} failed; "
        f"the table is in {folder / 'table.md'}")
    return results


def collect(folder: Path, spec: SweepSpec, failed: dict[str, dict[str, Any]], seconds: float, backend: str,
            workers: int | None) -> dict[str, Any]:
    """Aggregate the finished records of ``spec``'s cells into ``results.json`` and ``table.md``."""
    from benchmarks.sweep_results import aggregate, table_lines

    records = []
    for cell in spec.cells:
        record = read_record(folder, cell)
        if cell_finished(record, cell):
            records.append(record)
    configs = aggregate(records)
    results = {"kind": "sweep", "title": f"Sweep {spec.name}", "name": spec.name, "spec": str(spec.source),
               "backend": backend, "workers": workers, "seconds": seconds, "versions": versions(),
               "cells": len(spec.cells), "finished": len(records),
               "failed": [{"cell": name, **outcome} for name, outcome in failed.items()],
               "configs": configs, "results": records}
    write_json(folder / "results.json", results)
    lines = [f"# {results['title']}", "", f"{len(records)} of {len(spec.cells)} cells finished; {len(failed)} failed.",
             "", *table_lines(configs)]
    if failed:
        lines += ["### Failed cells", "", *(f"- {name}: {o['error']}" for name, o in failed.items()), ""]
    write_text(folder / "table.md", "\n".join(lines))
    return results
