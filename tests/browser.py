"""Render a page in Debian's headless Chromium: its DOM after load, console lines, a PNG."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]


@dataclass
class Rendered:
    dom: str
    console: list[str]
    screenshot: Path


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, workdir: Path) -> Rendered:
    """Load ``page`` twice (DOM dump, screenshot); collect console lines of both loads."""
    binary = chromium()
    assert binary, "chromium not installed"
    url = page.resolve().as_uri()
    shot = workdir / "screenshot.png"
    dom = subprocess.run([binary, *FLAGS, f"--user-data-dir={workdir / 'p1'}", "--dump-dom",
                          url], capture_output=True, text=True, timeout=120)
    png = subprocess.run([binary, *FLAGS, f"--user-data-dir={workdir / 'p2'}",
                          "--window-size=1200,2000", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    console = [line for out in (dom.stderr, png.stderr) for line in out.splitlines()
               if ":CONSOLE" in line]
    return Rendered(dom.stdout, console, shot)
