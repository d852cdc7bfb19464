"""Run one emulated device in the foreground: `cd tests && python -m emulator --port 5555`.

Then `adb connect 127.0.0.1:5555` from any adb; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from .adbd import EmulatedAdbd
from .device import load_profile, profile_names


def main() -> None:
    """Parse the options, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--profile", default="pixel4", help=f"one of {profile_names()}")
    parser.add_argument("--port", type=int, default=5555)
    parser.add_argument("--dir", help="device root folder (default: a new temporary folder)")
    args = parser.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="emulated-device-"))
    daemon = EmulatedAdbd(base, load_profile(args.profile), port=args.port)
    daemon.start()
    print(f"{args.profile} listening on 127.0.0.1:{daemon.port}; /data/local/tmp is "
          f"{daemon.fs.sandbox}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        daemon.stop()


if __name__ == "__main__":
    main()
