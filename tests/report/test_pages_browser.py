"""Every page of a generated diagnosis report opened in headless Chromium.

For each page (index, card, one per sample): no console errors or uncaught exceptions, no JavaScript dialog
(the attack sample name must stay text), no <script> element, every <img> loaded (``naturalWidth > 0``), no
horizontal overflow at 1280 px, every local link points at a page of the report. A full-page screenshot of each
page is saved into the test's temporary folder (and copied to ``$METHYLCLASS_SCREENSHOT_DIR`` when set); the
folder is printed.

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``: NUL-terminated JSON
on file descriptors 3 and 4), so the test needs no browser-automation package. It skips with the reason when
Debian's ``chromium`` is not installed (``.ci/run`` installs it when run as root).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or BASH is None,
    reason="headless-browser test needs Debian's 'chromium' (apt-get install -y chromium; .ci/run installs it when "
           "run as root) and bash")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--remote-debugging-pipe"]
WIDTH = 1280


def _high(fd: int) -> int:
    """``fd`` moved to a number ≥ 10 (so the shell's ``3<&N 4>&M`` cannot clobber it)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """A minimal DevTools-protocol client over Chromium's debugging pipe (one page target)."""

    def __init__(self, profile: Path, timeout: float = 60.0):
        self.timeout = timeout
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        to_chrome_r, from_chrome_w = _high(to_chrome_r), _high(from_chrome_w)
        # Chromium reads commands on fd 3 and writes replies on fd 4; bash moves the pipe ends there (dash only
        # takes one-digit fds; no preexec_fn: this process may run other threads, e.g. a Spark gateway)
        shell = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self.proc = subprocess.Popen([BASH, "-c", shell, CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.w, self.r = to_chrome_w, from_chrome_r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its debugging pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, *, session: bool = False, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def open(self, url: str) -> list[dict]:
        """Load ``url`` and wait for its load event; returns the events (console, log, dialogs) it caused."""
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
        return list(self.events)

    def screenshot(self, path: Path) -> None:
        """Full-page PNG at ``WIDTH`` CSS pixels."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH, height=min(height, 16_000),
                  deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass


def _problems(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif m == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log error: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Page.javascriptDialogOpening":
            out.append(f"a JavaScript dialog opened: {p.get('message')!r}")
    return out


PAGE_FACTS = """(() => ({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth,
                                                  src: i.getAttribute('src').slice(0, 30)})),
  scripts: document.querySelectorAll('script').length,
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  title: document.title,
  h1: (document.querySelector('h1') || {}).textContent,
}))()"""


def test_every_page_in_headless_chromium(demo_report, tmp_path):
    from methylclass.report.diagnosis import safe_file_names

    report = demo_report.index.parent
    pages = sorted(report.glob("*.html"))
    names = demo_report.predictions["sample"].tolist()
    n_images = {"index.html": 0, "card.html": 0}
    for name, file, status in zip(names, safe_file_names(names), demo_report.predictions["status"]):
        sr = demo_report.samples.get(name)
        n_images[file] = 0 if status == "failed" else 2 + int(sr is not None and sr.cnv is not None)
    assert {p.name for p in pages} == set(n_images)
    assert sum(n_images.values()) > 10
    shots = tmp_path / "screenshots"
    shots.mkdir()
    browser = Chromium(tmp_path / "profile")
    try:
        for page in pages:
            events = browser.open(page.as_uri())
            facts = browser.evaluate(PAGE_FACTS)
            assert _problems(events) == [], page.name
            assert facts["scripts"] == 0, page.name
            bad = [i for i in facts["images"] if not (i["complete"] and i["w"] > 0)]
            assert bad == [], f"{page.name}: images not loaded: {bad}"
            assert all(i["src"].startswith("data:image/") for i in facts["images"]), page.name
            assert facts["overflow"] <= 0, f"{page.name} is {facts['overflow']} px wider than the window"
            for href in facts["links"]:
                u = urlparse(href)
                if u.scheme == "file":
                    target = Path(unquote(u.path))
                    assert target.parent == report and target.is_file(), f"{page.name}: dead link {href}"
            assert len(facts["images"]) == n_images[page.name], page.name
            browser.screenshot(shots / f"{page.stem}.png")
    finally:
        browser.close()
    # the attack name is shown as text on its page and in the index, and no file escaped the report folder
    evil = [p for p in pages if "evil" in p.name]
    assert len(evil) == 1 and evil[0].parent == report
    browser = Chromium(tmp_path / "profile2")
    try:
        browser.open(evil[0].as_uri())
        assert browser.evaluate("document.querySelector('h1').textContent") == demo_report.evil_name
    finally:
        browser.close()
    assert all(p.stat().st_size > 5_000 for p in shots.glob("*.png"))
    keep = os.environ.get("METHYLCLASS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for p in shots.glob("*.png"):
            shutil.copy2(p, Path(keep) / p.name)
    print(f"\nscreenshots of {len(pages)} report pages: {keep or shots}")
