"""Errors a user can act on. Each carries the process exit code the CLI returns for it.

Exit codes (documented in README.md):
  0  success
  1  unexpected internal error (one line; ``--debug`` shows the traceback)
  2  bad command line (argparse)
  3  input error: missing / unreadable / not a video / no frames / camera does not open
  4  model error: model missing offline, checksum mismatch, model file MediaPipe cannot load
  5  output error: cannot write the output
  6  batch: some clips failed (each is listed with its error in DIR/summary.csv; the others are done)
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_CLIPS_FAILED = 6  # valgus-cam batch: at least one clip failed, the batch went on


class ValgusCamError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class InputError(ValgusCamError):
    exit_code = 3


class ModelError(ValgusCamError):
    exit_code = 4


class OutputError(ValgusCamError):
    exit_code = 5
