"""Result writers. Every file is written to a temporary name beside its target and renamed
into place only when complete, so a crash or Ctrl-C never leaves a half-written file under the
final name.

Landmark CSV layouts (``valgus-cam landmarks``):

* ``long`` (default): one row per frame and landmark: ``frame, time_s, detected, landmark_id,
  landmark, x_px, y_px, z, visibility, presence, world_x_m, world_y_m, world_z_m``. A frame with
  nobody detected still has its 33 rows, with ``detected=0`` and the numbers empty.
* ``wide``: one row per frame: ``frame, time_s, detected``, then for each landmark ``<name>_x_px,
  <name>_y_px, <name>_z, <name>_visibility, <name>_presence, <name>_world_x_m, <name>_world_y_m,
  <name>_world_z_m``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from .errors import InputError, OutputError
from .pose import LANDMARK_NAMES, N_LANDMARKS, Pose

_FIELDS = ("x_px", "y_px", "z", "visibility", "presence", "world_x_m", "world_y_m", "world_z_m")
_FMT = ("{:.2f}", "{:.2f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}")
LONG_COLUMNS = ("frame", "time_s", "detected", "landmark_id", "landmark") + _FIELDS
WIDE_COLUMNS = ("frame", "time_s", "detected") + tuple(f"{n}_{f}" for n in LANDMARK_NAMES for f in _FIELDS)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, newline: str | None = "", encoding="utf-8"):
    """Open a temp file beside ``path``; rename it onto ``path`` only if the block completes."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(f"cannot write to {path.parent}: {e.strerror or e}") from None
    try:
        kwargs = {} if "b" in mode else {"newline": newline, "encoding": encoding}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pose_values(pose: Pose) -> np.ndarray:
    """(33, 8) array in the order of ``_FIELDS``."""
    return np.column_stack([pose.xy_px, pose.z, pose.visibility, pose.presence, pose.world_xyz_m])


class LandmarkCsvWriter:
    """Writes frames to an open text file in the ``long`` or ``wide`` layout."""

    def __init__(self, f: IO[str], layout: str = "long"):
        if layout not in ("long", "wide"):
            raise ValueError(f"unknown layout {layout!r}")
        self.layout = layout
        self._w = csv.writer(f, lineterminator="\n")
        self._w.writerow(LONG_COLUMNS if layout == "long" else WIDE_COLUMNS)

    def write(self, frame_index: int, time_s: float, pose: Pose | None) -> None:
        head = [frame_index, f"{time_s:.6f}", 1 if pose is not None else 0]
        if pose is None:
            if self.layout == "long":
                self._w.writerows(head + [i, LANDMARK_NAMES[i]] + [""] * len(_FIELDS) for i in range(N_LANDMARKS))
            else:
                self._w.writerow(head + [""] * (len(WIDE_COLUMNS) - 3))
            return
        vals = _pose_values(pose)
        cells = [[fmt.format(v) for fmt, v in zip(_FMT, row)] for row in vals.tolist()]
        if self.layout == "long":
            self._w.writerows(head + [i, LANDMARK_NAMES[i]] + cells[i] for i in range(N_LANDMARKS))
        else:
            self._w.writerow(head + [c for row in cells for c in row])


@dataclass(frozen=True, slots=True)
class LandmarkTable:
    """Landmarks of a whole clip as arrays (NaN where nobody was detected)."""

    frame: np.ndarray  # (n,) int
    time_s: np.ndarray  # (n,)
    detected: np.ndarray  # (n,) bool
    values: np.ndarray  # (n, 33, 8) in the order x_px, y_px, z, visibility, presence, world_x_m, world_y_m, world_z_m

    @property
    def xy_px(self) -> np.ndarray:
        return self.values[..., 0:2]

    @property
    def world_xyz_m(self) -> np.ndarray:
        return self.values[..., 5:8]


def read_landmarks_csv(path: str | os.PathLike) -> LandmarkTable:
    """Read a CSV written by :class:`LandmarkCsvWriter` (either layout)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read landmark CSV {path}: {getattr(e, 'strerror', None) or e}") from None
    rows = csv.reader(io.StringIO(text))
    header = tuple(next(rows, ()))
    if header not in (LONG_COLUMNS, WIDE_COLUMNS):
        raise InputError(f"not a valgus-cam landmark CSV (unexpected header): {path}")
    frames: dict[int, tuple[float, bool, np.ndarray]] = {}
    try:
        for r in rows:
            if not r:
                continue
            fi, t, det = int(r[0]), float(r[1]), r[2] == "1"
            if header == LONG_COLUMNS:
                entry = frames.setdefault(fi, (t, det, np.full((N_LANDMARKS, len(_FIELDS)), np.nan)))
                lid = int(r[3])
                if det:
                    entry[2][lid] = [float(v) for v in r[5:]]
            else:
                vals = np.array([float(v) if v else np.nan for v in r[3:]], dtype=float)
                frames[fi] = (t, det, vals.reshape(N_LANDMARKS, len(_FIELDS)))
    except (ValueError, IndexError) as e:
        raise InputError(f"malformed landmark CSV {path}: {e}") from None
    order = sorted(frames)
    return LandmarkTable(
        frame=np.array(order, dtype=int),
        time_s=np.array([frames[i][0] for i in order], dtype=float),
        detected=np.array([frames[i][1] for i in order], dtype=bool),
        values=np.stack([frames[i][2] for i in order]) if order else np.empty((0, N_LANDMARKS, len(_FIELDS))),
    )


def write_frames_csv(f: IO[str], frame_index: np.ndarray, measures) -> None:
    """``frames.csv``: ``frame, time_s, detected`` then the measures' ``CSV_COLUMNS``; a value
    that is not measurable (NaN) is left empty; ``frame`` is the 0-based index in the video."""
    w = csv.writer(f)
    cols = measures.CSV_COLUMNS
    w.writerow(("frame", "time_s", "detected") + cols)
    arrays = [np.asarray(getattr(measures, c)) for c in cols]

    def fmt(v):
        if isinstance(v, (bool, np.bool_)):
            return int(v)
        return "" if not np.isfinite(v) else f"{v:.2f}"

    for i in range(len(frame_index)):
        w.writerow([int(frame_index[i]), f"{measures.time_s[i]:.4f}", int(measures.detected[i])]
                   + [fmt(a[i]) for a in arrays])
