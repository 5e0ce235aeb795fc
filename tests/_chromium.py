"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``):
no extra Python package, no network port. Used by the HTML report tests to open a page and collect
console messages, uncaught exceptions, failed loads and every URL the page requested, and to take
a screenshot.

Also a script: ``python tests/_chromium.py PAGE.html OUT.png [--width 1000] [--mobile]`` saves a
full-page screenshot and prints what the page logged.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars"]


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@dataclass
class PageLoad:
    console: list[dict] = field(default_factory=list)  # Runtime.consoleAPICalled params
    exceptions: list[dict] = field(default_factory=list)  # Runtime.exceptionThrown params
    log: list[dict] = field(default_factory=list)  # Log.entryAdded entries
    requests: list[str] = field(default_factory=list)  # every URL requested
    failed: list[dict] = field(default_factory=list)  # Network.loadingFailed params
    screenshot_png: bytes = b""
    scroll_width_px: int = 0
    viewport_width_px: int = 0
    images: list[dict] = field(default_factory=list)  # [{src_prefix, complete, natural_w, natural_h}]
    results: list = field(default_factory=list)  # the values of ``load(..., scripts=...)``, in order

    @property
    def errors(self) -> list[str]:
        """Every console error/warning, uncaught exception, error log entry and failed load, as text."""
        out = [f"console.{c['type']}: {' '.join(str(a.get('value', a.get('description', ''))) for a in c['args'])}"
               for c in self.console if c["type"] in ("error", "warning", "assert")]
        out += [f"exception: {e['exceptionDetails'].get('text')} {e['exceptionDetails'].get('exception', {})}"
                for e in self.exceptions]
        out += [f"log {e['level']} ({e['source']}): {e['text']}" for e in self.log
                if e["level"] in ("error", "warning")]
        # a <video> with preload="metadata" cancels its request once it has what it needs (ERR_ABORTED,
        # type Media): not a failure; a missing video file (ERR_FILE_NOT_FOUND) still is
        out += [f"load failed: {f.get('errorText')}" for f in self.failed
                if not (f.get("type") == "Media" and f.get("errorText") == "net::ERR_ABORTED")]
        return out


class Chromium:
    """One headless browser; ``load(path)`` opens a local page in a fresh tab."""

    def __init__(self, exe: str | None = None, timeout_s: float = 60.0):
        exe = exe or find_chromium()
        if exe is None:
            raise FileNotFoundError("chromium not found")
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="valgus-cam-chromium-")
        cmd_r, self._w = os.pipe()  # we write commands, chromium reads fd 3
        self._r, res_w = os.pipe()  # chromium writes replies on fd 4

        def child_fds():
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)

        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr)
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self._pending: list[dict] = []

    # -- protocol
    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError(f"chromium exited: {self.stderr_tail()}")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            m = self._read(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._pending.append(m)

    def _wait(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for k, m in enumerate(self._pending):
                if m.get("method") == method and m.get("sessionId") == session:
                    return self._pending[k]
            self._pending.append(self._read(deadline))

    def stderr_tail(self, n: int = 2000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-n:]

    # -- pages
    def load(self, path: str | os.PathLike, *, width: int = 1000, height: int = 800, mobile: bool = False,
             settle_s: float = 0.5, screenshot: bool = True, scripts: tuple[str, ...] = ()) -> PageLoad:
        """Open ``path`` in a new tab at the given viewport; return what happened and (unless
        ``screenshot=False``) a full-page screenshot. ``scripts``: JavaScript expressions evaluated
        in the page one after the other once it has loaded (a promise is awaited); their values
        (JSON-able) are in ``results``."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Runtime", "Log", "Network", "Page"):
                self.send(f"{domain}.enable", session=s)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, session=s)
            self._pending.clear()
            self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=s)
            self._wait("Page.loadEventFired", s)
            time.sleep(settle_s)
            probe = self.send("Runtime.evaluate", {"returnByValue": True, "expression": """JSON.stringify({
                sw: document.documentElement.scrollWidth, vw: window.innerWidth,
                imgs: Array.from(document.images).map(i => ({src_prefix: i.src.slice(0, 30),
                    complete: i.complete, natural_w: i.naturalWidth, natural_h: i.naturalHeight}))})"""},
                session=s)
            info = json.loads(probe["result"]["value"])
            results = []
            for expr in scripts:
                r = self.send("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True,
                                                   "userGesture": True}, session=s)
                if "exceptionDetails" in r:
                    raise RuntimeError(f"script failed: {r['exceptionDetails']}")
                results.append(r["result"].get("value"))
            shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                             session=s) if screenshot else {"data": ""}
            events = [m for m in self._pending if m.get("sessionId") == s]
        finally:
            self.send("Target.closeTarget", {"targetId": target})
        load = PageLoad(screenshot_png=base64.b64decode(shot["data"]), scroll_width_px=info["sw"],
                        viewport_width_px=info["vw"], images=info["imgs"], results=results)
        for m in events:
            p = m.get("params", {})
            match m.get("method"):
                case "Runtime.consoleAPICalled":
                    load.console.append(p)
                case "Runtime.exceptionThrown":
                    load.exceptions.append(p)
                case "Log.entryAdded":
                    load.log.append(p["entry"])
                case "Network.requestWillBeSent":
                    load.requests.append(p["request"]["url"])
                case "Network.loadingFailed":
                    load.failed.append(p)
        return load

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--mobile", action="store_true")
    a = ap.parse_args()
    with Chromium() as c:
        r = c.load(a.page, width=a.width, mobile=a.mobile)
    Path(a.out).write_bytes(r.screenshot_png)
    print(f"errors: {r.errors}\nrequests: {[u[:60] for u in r.requests]}\nscroll width {r.scroll_width_px} "
          f"of {r.viewport_width_px}\nimages: {r.images}")
