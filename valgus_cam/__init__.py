"""valgus-cam: dynamic knee valgus (FPPA), pelvic drop and trunk lean from a camera."""

import os as _os

__version__ = "0.1.0"

# OpenCV and FFmpeg print their own warnings on stderr ("moov atom not found", camera probing),
# which would bury the one-line errors valgus-cam promises. Quiet by default; set these
# variables (or run with --debug) to see them. Must happen before cv2 is imported.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def __getattr__(name):  # valgus_cam.analyze without importing MediaPipe at package import
    if name in ("analyze", "AnalyzeResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'valgus_cam' has no attribute {name!r}")
