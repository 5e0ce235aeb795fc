#!/usr/bin/env python
"""The reliability matrix as observed: every row of tests/test_bad_inputs.py run through the command
line, printed as a Markdown table (input → command → exit code → what the user sees) for
docs/reliability.md. The test file asserts the expectations; this only reports.

    python benchmarks/bad_inputs.py [--rows ID ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
if "VALGUS_CAM_MODEL_DIR" not in os.environ and (ROOT.parent / "shared" / "models").is_dir():
    os.environ["VALGUS_CAM_MODEL_DIR"] = str(ROOT.parent / "shared" / "models")


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rows", nargs="*", help="case ids (default: all)")
    args = ap.parse_args()
    import pytest

    import badfiles as bf
    from test_bad_inputs import CASES, run_case

    print("| input or fault | command | exit | stderr | what the result says |")
    print("| --- | --- | --- | --- | --- |")
    for case in CASES:
        if args.rows and case.id not in args.rows:
            continue
        for command in case.commands:
            with tempfile.TemporaryDirectory() as d:
                try:
                    o, out = run_case(case, command, Path(d))
                except pytest.skip.Exception as e:
                    print(f"| {case.what} | {command} | — | skipped: {_cell(str(e))} | |")
                    continue
                finally:
                    for mnt in ("ro", "full"):
                        if os.path.ismount(Path(d) / mnt):
                            bf.umount(Path(d) / mnt)
                said = ""
                if (out / "reps.json").exists():
                    doc = json.loads((out / "reps.json").read_text())
                    said = f"{len(doc['reps'])} reps; " + "; ".join(doc["warnings"]) if doc["warnings"] else \
                        f"{len(doc['reps'])} reps, no warning"
                elif o.exit_code == 0:
                    said = "; ".join(line.strip() for line in o.stdout.splitlines() if "warning" in line) or \
                        "landmarks.csv written"
                files = ", ".join(o.files) or "nothing written"
                print(f"| {case.what} | {command} | {o.exit_code} | {_cell(o.stderr.strip() or '—')} | "
                      f"{_cell(said, 400)} [{files}] |", flush=True)


if __name__ == "__main__":
    main()
