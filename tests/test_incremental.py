"""incremental.py: the engine behind the live verdicts and the single-pass annotated video, on real
threads with a tiny analysis (the sum of the buffer so far), and the "final once old enough" rule."""

from __future__ import annotations

import math
import threading

import pytest

from valgus_cam.incremental import Engine, Snapshot


class Gated:
    """An analysis that sums its snapshot's job and, while ``hold`` is clear, waits inside."""

    def __init__(self):
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()
        self.seen: list = []
        self.threads: set = set()

    def __call__(self, snap: Snapshot) -> int:
        self.threads.add(threading.current_thread().name)
        self.seen.append(snap.job)
        self.started.set()
        assert self.hold.wait(10)
        if snap.job == "boom":
            raise ValueError("boom")
        return sum(snap.job)


def _snap(n: int, final: bool = False) -> Snapshot:
    return Snapshot(list(range(n)), float(n), final)


def _busy_engine(fn: Gated, first: Snapshot | None = None) -> Engine:
    """An engine whose thread is inside fn (on ``first``, default the snapshot of 1 frame) until
    fn.hold is set."""
    fn.hold.clear()
    e = Engine(fn, name="test-engine")
    assert e.post(first or _snap(1))
    assert fn.started.wait(10)
    return e


def test_runs_on_its_thread_and_take_hands_out_the_result_once():
    fn = Gated()
    e = Engine(fn, name="test-engine")
    assert e.take() is None
    assert e.post(_snap(4))
    snap, res = e.take(wait=True)
    assert (snap.job, snap.newest_s, res) == ([0, 1, 2, 3], 4.0, 6)
    assert e.take(wait=True) is None  # taken once
    assert fn.threads == {"test-engine"}
    e.stop()
    assert not e.post(_snap(2))  # stopped: refused


def test_the_latest_snapshot_wins_while_one_runs():
    fn = Gated()
    e = _busy_engine(fn)
    for n in (2, 3, 5):  # posted while 1 runs: each replaces the one waiting
        assert e.post(_snap(n))
    fn.hold.set()
    snap, res = e.take(wait=True)
    assert fn.seen == [[0], list(range(5))]  # 2 and 3 never ran
    assert res == 10 and snap.newest_s == 5.0
    e.stop()


def test_if_idle_refuses_while_busy():
    fn = Gated()
    e = _busy_engine(fn)
    assert not e.post(_snap(3), if_idle=True)
    assert e.take() is None  # not finished: nothing to take
    fn.hold.set()
    assert e.take(wait=True)[1] == 0
    assert e.post(_snap(3), if_idle=True)
    assert e.take(wait=True)[1] == 3
    e.stop(timeout=5.0)


def test_an_error_is_raised_by_take_once_and_drops_the_waiting_snapshot():
    fn = Gated()
    e = _busy_engine(fn, Snapshot("boom", 1.0))
    assert e.post(_snap(3))  # waiting behind the analysis that will fail
    fn.hold.set()
    with pytest.raises(ValueError, match="boom"):
        e.take(wait=True)
    assert fn.seen == ["boom"]  # the waiting snapshot was dropped
    assert e.take() is None  # raised once
    assert e.post(_snap(3))  # taken: the engine runs again
    assert e.take(wait=True)[1] == 3
    e.stop()


def test_stop_lets_the_running_analysis_finish_and_drops_the_waiting_one():
    fn = Gated()
    e = _busy_engine(fn)
    e.post(_snap(3))
    threading.Timer(0.05, fn.hold.set).start()
    e.stop()
    assert fn.seen == [[0]]
    assert e.take()[1] == 0  # the running one finished
    e.stop()  # idempotent


def test_inline_runs_inside_post_with_the_same_rules():
    fn = Gated()
    e = Engine(fn, threaded=False)
    assert e.post(_snap(3), if_idle=True)
    assert fn.threads == {threading.current_thread().name}
    assert e.take()[1] == 3
    assert e.post(Snapshot("boom", 1.0))  # the error waits for take()
    assert not e.post(_snap(2))  # refused until then
    with pytest.raises(ValueError):
        e.take(wait=True)
    e.stop()
    assert not e.post(_snap(2))


def test_final_once_old_enough():
    s = Snapshot(None, 10.0)
    assert s.until(0.4) == 10.0 - 0.4
    assert s.old_enough(9.5, 0.4) and not s.old_enough(9.7, 0.4)
    f = Snapshot(None, 10.0, final=True)
    assert f.until(0.4) == math.inf and f.old_enough(10.0, 0.4)
