"""Bad and awkward inputs, made at test time from the real clips in ../shared (nothing large is
committed), and a runner that records what the command line did with them.

Each ``make_*`` function writes one input under ``d`` and returns its path. Videos are made with
OpenCV's writer (``mp4v``) or with imageio-ffmpeg's ffmpeg binary (a dev dependency), short and
small so that the whole matrix stays cheap. ``run(argv)`` runs ``python -m valgus_cam`` as a user
would and returns an :class:`Outcome` (exit code, stderr lines, the files left in the output
folder, peak RSS of the process).

    python tests/badfiles.py   # not a test: prints the observed matrix (see benchmarks/bad_inputs.py)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALGUS_CAM_SHARED", ROOT.parent / "shared")).resolve()
CLIPS = SHARED / "clips"
SHORT_CLIP = CLIPS / "front_highbar_squat_1rep__trutadan.mp4"  # 62 frames, 608x1080, one rep
SUBJECT_CLIP = CLIPS / "front_dumbbell_squat_5reps__nowva.mp4"  # 365 frames, 1280x720, 5 reps back to back
OTHER_CLIP = CLIPS / "front_squat_20reps_counter__rjsong.mp4"  # 1280x720, another person squatting


_CACHE_DIR: Path | None = None


def cached(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
    """``make`` run once per process (in a temporary folder of its own): for the composites that
    several tests use. The returned function ignores its folder argument."""
    def made(_d: Path | None = None) -> Path:
        global _CACHE_DIR
        if _CACHE_DIR is None:
            import atexit
            import shutil

            _CACHE_DIR = Path(tempfile.mkdtemp(prefix="valgus-cam-badfiles-"))
            atexit.register(shutil.rmtree, _CACHE_DIR, True)
        d = _CACHE_DIR / make.__name__
        done = d / ".done"
        if not done.exists():
            d.mkdir(exist_ok=True)
            done.write_text(str(make(d)))
        return Path(done.read_text())
    made.__name__ = make.__name__
    return made


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *args], check=True, capture_output=True, timeout=300)


# ----------------------------------------------------------------------------------------------
# frames in, video out
# ----------------------------------------------------------------------------------------------
def read_frames(path: Path, start_s: float = 0.0, stop_s: float = float("inf")) -> Iterator[np.ndarray]:
    """Upright BGR frames of ``path`` whose presentation time is in [start_s, stop_s)."""
    from valgus_cam.capture import VideoFileSource

    with VideoFileSource(path) as src:
        for f in src:
            if f.time_s >= stop_s:
                return
            if f.time_s >= start_s:
                yield f.image_bgr


def write_video(path: Path, frames, fps: float) -> Path:
    """Frames (an iterable of equally sized BGR images) → ``mp4v`` file at a constant ``fps``."""
    w = None
    for img in frames:
        if w is None:
            h, wd = img.shape[:2]
            w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (wd, h))
            assert w.isOpened(), path
        w.write(np.ascontiguousarray(img))
    assert w is not None, "no frames"
    w.release()
    return path


def fit(img: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, wh, interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------------------------
# files that are not what they claim
# ----------------------------------------------------------------------------------------------
def make_missing(d: Path) -> Path:
    return d / "missing.mp4"


def make_directory(d: Path) -> Path:
    (d / "a_folder.mp4").mkdir()
    return d / "a_folder.mp4"


def make_zero_byte(d: Path) -> Path:
    (d / "empty.mp4").write_bytes(b"")
    return d / "empty.mp4"


def make_text_as_mp4(d: Path) -> Path:
    (d / "notes.mp4").write_text("this is not a video\n" * 200)
    return d / "notes.mp4"


def make_audio_only(d: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", str(d / "audio.m4a"))
    return d / "audio.m4a"


def make_faststart(d: Path, src: Path = SHORT_CLIP) -> Path:
    """``src`` remuxed with the index (moov) at the front, as phones and web encoders write it."""
    out = d / f"faststart_{src.name}"
    if not out.exists():
        ffmpeg("-i", str(src), "-c", "copy", "-an", "-movflags", "+faststart", str(out))
    return out


def make_truncated(d: Path, src: Path = SHORT_CLIP, fraction: float = 0.5, index_first: bool = False) -> Path:
    """``src`` cut at ``fraction`` of its bytes (an interrupted copy or download). With the index at
    the end (ffmpeg's default) nothing is playable; with it at the front, the first part is."""
    base = make_faststart(d, src) if index_first else src
    data = base.read_bytes()
    out = d / f"truncated_{'indexfirst' if index_first else 'indexlast'}.mp4"
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def make_corrupt_middle(d: Path, src: Path = SHORT_CLIP, span: float = 0.1, seed: int = 0) -> Path:
    """``src`` with ``span`` of its bytes, around the middle of the frame data, overwritten with
    random bytes (a bad sector, a damaged transfer)."""
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    n = int(len(data) * span)
    start = len(data) // 2 - n // 2
    data[start: start + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    out = d / "corrupt_middle.mp4"
    out.write_bytes(bytes(data))
    return out


# ----------------------------------------------------------------------------------------------
# valid videos at the edges
# ----------------------------------------------------------------------------------------------
def make_one_frame(d: Path) -> Path:
    return write_video(d / "one_frame.mp4", [next(read_frames(SHORT_CLIP))], 30)


def make_16x16(d: Path) -> Path:
    return write_video(d / "tiny_16x16.mp4", (fit(f, (16, 16)) for f in read_frames(SHORT_CLIP)), 30)


def make_4k(d: Path, seconds: float = 6.0) -> Path:
    """A real squat clip scaled to 3840x2160 (UHD), ``seconds`` long, MPEG-4 Part 2."""
    out = d / f"uhd_3840x2160_{seconds:g}s.mp4"
    ffmpeg("-t", str(seconds), "-i", str(SUBJECT_CLIP), "-vf", "scale=3840:2160", "-c:v", "mpeg4", "-q:v", "8",
           "-an", str(out))
    return out


def make_4k_short(d: Path) -> Path:
    return make_4k(d, seconds=1.0)


def make_rotated(d: Path) -> Path:
    """As a phone stores a portrait clip: pixels turned 90° clockwise, metadata saying "turn back"."""
    sideways, out = d / "sideways.mp4", d / "phone_rotated.mp4"
    ffmpeg("-i", str(SHORT_CLIP), "-vf", "transpose=1", "-c:v", "mpeg4", "-q:v", "3", "-an", str(sideways))
    ffmpeg("-display_rotation", "90", "-i", str(sideways), "-c", "copy", str(out))
    return out


def make_vfr(d: Path) -> Path:
    """Variable frame rate: every third frame dropped, the others keep their original times."""
    out = d / "vfr.mp4"
    ffmpeg("-i", str(SHORT_CLIP), "-vf", "select='not(eq(mod(n\\,3)\\,2))'", "-fps_mode", "vfr",
           "-c:v", "mpeg4", "-q:v", "3", "-an", str(out))
    return out


def make_empty_scene(d: Path) -> Path:
    return write_video(d / "empty_room.mp4", (np.full((240, 320, 3), 90, np.uint8) for _ in range(30)), 30)


def make_dark(d: Path, gain: float = 0.03) -> Path:
    """The short clip at 3% of its brightness (a room with the lights off)."""
    frames = (np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8) for f in read_frames(SHORT_CLIP))
    return write_video(d / "dark.mp4", frames, 30)


def make_too_small(d: Path, height_px: int = 150) -> Path:
    """The short clip scaled so the whole frame is ``height_px`` high, in the corner of a black
    640x480 frame: the person is found but their legs are shorter than the 60 px gate."""
    def frames():
        for f in read_frames(SHORT_CLIP):
            h, w = f.shape[:2]
            small = fit(f, (round(w * height_px / h), height_px))
            canvas = np.zeros((480, 640, 3), np.uint8)
            canvas[480 - small.shape[0]:, :small.shape[1]] = small
            yield canvas
    return write_video(d / "too_small.mp4", frames(), 30)


def make_non_ascii(d: Path) -> Path:
    folder = d / "vidéos d'essai ü"
    folder.mkdir(exist_ok=True)
    out = folder / "squat ø 1 (copie).mp4"
    out.write_bytes(SHORT_CLIP.read_bytes())
    return out


# ----------------------------------------------------------------------------------------------
# composites of real clips: a person leaving, a second person
# ----------------------------------------------------------------------------------------------
SUBJECT_CROP_X = (400, 880)  # the subject of SUBJECT_CLIP stands in these columns of the 1280x720 frame
OTHER_CROP_X = (400, 880)
COMPOSITE_FPS = 30.0
COMPOSITE_STOP_S = 10.5  # of SUBJECT_CLIP: 4 whole reps (bottoms near 1.1, 3.5, 6.0, 8.5 s), the 5th begun
GAP_AT_S, GAP_S = 4.9, 1.5  # the subject leaves between their 2nd and 3rd rep (they squat back to back)
SUBJECT_REPS = 4


def _empty_room(frame: np.ndarray, x0: int, x1: int) -> np.ndarray:
    """The crop with the person painted out: each row filled with the wall beside them."""
    crop = frame[:, x0:x1].copy()
    crop[:] = np.median(frame[:, x0 - 60:x0 - 20], axis=1, keepdims=True).astype(np.uint8)
    return crop


def subject_with_gap(stop_s: float = COMPOSITE_STOP_S) -> Iterator[np.ndarray]:
    """SUBJECT_CLIP cropped to the person (480x720) with ``GAP_S`` of the empty room inserted at
    ``GAP_AT_S``: in the result the subject is away during [GAP_AT_S, GAP_AT_S + GAP_S)."""
    x0, x1 = SUBJECT_CROP_X
    for i, f in enumerate(read_frames(SUBJECT_CLIP, 0.0, stop_s)):
        if i == round(GAP_AT_S * COMPOSITE_FPS):
            empty = _empty_room(f, x0, x1)
            for _ in range(round(GAP_S * COMPOSITE_FPS)):
                yield empty
        yield f[:, x0:x1]


def make_walk_out_and_back(d: Path) -> Path:
    """A real person squatting, away for ``GAP_S`` in the middle (an empty room), then back."""
    return write_video(d / "walk_out_and_back.mp4", subject_with_gap(), COMPOSITE_FPS)


def make_two_people(d: Path, other_from_s: float = 1.0) -> Path:
    """Two real people side by side (960x720): on the left the subject of
    :func:`make_walk_out_and_back` (same timeline: away for ``GAP_S`` at ``GAP_AT_S``), on the
    right another person (OTHER_CLIP, mid-clip, squatting at their own pace) from
    ``other_from_s`` on. While the subject is away, a tracker that follows "whoever is visible"
    carries on with the other person."""
    ox0, ox1 = OTHER_CROP_X
    other = read_frames(OTHER_CLIP, 20.0, 20.0 + COMPOSITE_STOP_S + GAP_S)

    def frames():
        for i, left in enumerate(subject_with_gap()):
            o = next(other, None)
            if o is None or i / COMPOSITE_FPS < other_from_s:
                right = np.full((left.shape[0], ox1 - ox0, 3), 200, np.uint8)
            else:
                right = o[:, ox0:ox1]
            yield np.hstack([left, right])
    return write_video(d / "two_people.mp4", frames(), COMPOSITE_FPS)


# ----------------------------------------------------------------------------------------------
# output locations that cannot be written
# ----------------------------------------------------------------------------------------------
def make_file_where_folder_expected(d: Path) -> Path:
    """An output folder path whose parent is a regular file: cannot be created, even by root."""
    (d / "results.txt").write_text("a file, not a folder\n")
    return d / "results.txt" / "out"


def readonly_mount(d: Path) -> Path | None:
    """A read-only tmpfs mounted at ``d/ro`` (needs root and mount rights; None otherwise). Root
    ignores file permissions but not a read-only file system. Unmount with ``umount``."""
    mnt = d / "ro"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mnt)], capture_output=True)
    return mnt if res.returncode == 0 else None


def tiny_tmpfs(d: Path, size: str = "96k") -> Path | None:
    """A ``size`` tmpfs at ``d/full`` (needs root); None when mounting is not allowed."""
    mnt = d / "full"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    return mnt if res.returncode == 0 else None


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ----------------------------------------------------------------------------------------------
# running the command line
# ----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    wall_s: float
    files: dict[str, int] = field(default_factory=dict)  # name → size of what is left in the output folder

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.strip().splitlines() if self.stderr.strip() else []


def _limit_file_size(max_bytes: int) -> Callable[[], None]:
    def pre() -> None:  # in the child, before exec: a write past max_bytes fails with EFBIG
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return pre


def run(argv: list[str], *, out_dir: Path | None = None, cwd: Path | None = None, env: dict | None = None,
        max_file_bytes: int | None = None, interrupt_when: Callable[[], bool] | None = None,
        timeout_s: float = 600) -> Outcome:
    """Run ``python -m valgus_cam *argv``; returns what happened. ``max_file_bytes``: the disk
    "fills" at that file size (RLIMIT_FSIZE). ``interrupt_when``: polled every 20 ms; once true,
    the process gets SIGINT (Ctrl-C). Peak RSS is the process's own (``os.wait4``)."""
    full_env = dict(os.environ, **(env or {}))
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "valgus_cam", *argv], stdout=so, stderr=se, cwd=cwd,
                             env=full_env, preexec_fn=_limit_file_size(max_file_bytes) if max_file_bytes else None)
        interrupted = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if interrupt_when is not None and not interrupted and interrupt_when():
                p.send_signal(signal.SIGINT)
                interrupted = True
            if time.perf_counter() - t0 > timeout_s:
                p.kill()
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    files = {}
    if out_dir is not None and out_dir.is_dir():
        files = {p.name: p.stat().st_size for p in sorted(out_dir.iterdir())}
    return Outcome(list(argv), p.returncode, stdout, stderr, usage.ru_maxrss / 1024, wall, files)


def temp_files(out_dir: Path) -> list[str]:
    """Temporary files atomic writing leaves only if it fails to clean up."""
    return sorted(p.name for p in out_dir.glob(".*tmp*")) if out_dir.is_dir() else []


def check_complete(path: Path) -> None:
    """Raise AssertionError unless ``path`` is a complete output file of its kind."""
    import csv
    import json

    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".csv":
        rows = list(csv.reader(path.open()))
        assert rows and len({len(r) for r in rows}) == 1, f"{path}: ragged CSV"
    elif path.suffix == ".mp4":
        cap = cv2.VideoCapture(str(path))
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        assert ok, f"{path}: not a playable video"


if __name__ == "__main__":
    sys.exit("run benchmarks/bad_inputs.py to print the matrix")
