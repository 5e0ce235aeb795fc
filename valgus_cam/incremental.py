"""The incremental engine: an analysis re-run on a thread over a growing buffer, and the rule for
which part of each result is final.

Used by the live analyser (:class:`valgus_cam.stream.LiveAnalyser`: the rep verdicts and frames.csv
rows) and by the annotated video drawn during the pose pass
(:class:`valgus_cam.overlay.SinglePassAnnotator`). Conventions:

* The producer (the frame loop) owns the buffer and posts a :class:`Snapshot` of it: ``job`` is
  whatever the analysis needs (the caller's own type), ``newest_s`` the time of the newest frame in
  it, ``final`` that the buffer is complete.
* :class:`Engine` runs ``analyse(snapshot)`` for one snapshot at a time on a daemon thread. A
  snapshot waiting to start is replaced by a newer one (the latest wins), or, with
  ``post(..., if_idle=True)``, a post is refused while anything is waiting or running.
* The result is collected by :meth:`Engine.take` (or ignored: an ``analyse`` may act on its
  result itself, on the thread). An exception raised by ``analyse`` is raised by the next
  ``take``; until then the engine runs nothing more.
* Final once old enough: what a result says about a time ``t`` is final when the snapshot is
  final or ``t`` lies at least a lag behind ``newest_s`` (:meth:`Snapshot.until`,
  :meth:`Snapshot.old_enough`); each caller picks its lags.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[J]):
    """The buffer as of one moment: ``job`` (what the analysis needs), the time of its newest
    frame, and whether the buffer is complete (then everything in a result is final)."""

    job: J
    newest_s: float
    final: bool = False

    def until(self, lag_s: float) -> float:
        """The last time that is final with this lag: ``newest_s - lag_s`` (inclusive), or
        infinity for a final snapshot."""
        return math.inf if self.final else self.newest_s - lag_s

    def old_enough(self, t: float, lag_s: float) -> bool:
        """Whether time ``t`` is final with this lag: the same rule as :meth:`until`, written as
        ``newest_s - t >= lag_s`` (the two spellings can round differently at an exact tie; each
        caller keeps the one it has always used)."""
        return self.final or self.newest_s - t >= lag_s


class Engine(Generic[J, R]):
    """Runs ``analyse(snapshot)`` on one daemon thread named ``name`` (``background``: at the lowest
    CPU priority), one snapshot at a time. ``threaded=False`` runs it inside :meth:`post` instead
    (deterministic; for tests), with the same rules otherwise."""

    def __init__(self, analyse: Callable[[Snapshot[J]], R], *, name: str = "valgus-cam-analysis",
                 threaded: bool = True, background: bool = False):
        self._analyse = analyse
        self._background = background
        self._cv = threading.Condition()
        self._waiting: Snapshot[J] | None = None  # posted, not started
        self._running = False
        self._outcome: tuple[Snapshot[J], R] | BaseException | None = None  # newest, not taken
        self._stopped = False
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def post(self, snapshot: Snapshot[J], *, if_idle: bool = False) -> bool:
        """Queue ``snapshot``, replacing one that has not started. ``if_idle``: refuse (False) while
        a snapshot is waiting or running. Refused also after :meth:`stop` and while an error is
        not taken."""
        with self._cv:
            if self._stopped or isinstance(self._outcome, BaseException):
                return False
            if if_idle and (self._waiting is not None or self._running):
                return False
            if self._thread is None:
                self._running = True
            else:
                self._waiting = snapshot
                self._cv.notify_all()
                return True
        self._run_one(snapshot)
        return True

    def take(self, wait: bool = False) -> tuple[Snapshot[J], R] | None:
        """The newest finished (snapshot, result) not taken yet, or None. ``wait``: first wait until
        nothing is waiting or running. Raises the exception an analysis raised (once)."""
        with self._cv:
            if wait:
                while self._waiting is not None or self._running:
                    self._cv.wait()
            out, self._outcome = self._outcome, None
        if isinstance(out, BaseException):
            raise out
        return out

    def stop(self, timeout: float | None = None) -> None:
        """No more analyses: drop a snapshot that has not started, let the running one finish and
        join the thread (up to ``timeout`` seconds). Idempotent."""
        with self._cv:
            self._stopped = True
            self._waiting = None
            self._cv.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        if self._background:
            background_priority()
        while True:
            with self._cv:
                while self._waiting is None and not self._stopped:
                    self._cv.wait()
                if self._stopped:
                    return
                snapshot, self._waiting, self._running = self._waiting, None, True
            self._run_one(snapshot)

    def _run_one(self, snapshot: Snapshot[J]) -> None:
        try:
            out: tuple[Snapshot[J], R] | BaseException = (snapshot, self._analyse(snapshot))
        except BaseException as e:  # noqa: BLE001 - raised again by take()
            out = e
        with self._cv:
            self._outcome, self._running = out, False
            if isinstance(out, BaseException):
                self._waiting = None  # nothing more runs until the error is taken
            self._cv.notify_all()


def background_priority() -> None:
    """Lower the calling thread's CPU priority to the lowest (Linux: per thread, inherited by the
    decoder and encoder threads it starts), so that it uses only what the rest leaves idle."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux / not allowed: normal priority
        pass
