"""Find the ``benchmark_model`` binary for a device's ABI: given, cached, or downloaded."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from dnncost.paths import cache_dir
from dnncost.errors import InputError, ToolError

NIGHTLY_URL = ("https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/"
               "release/lite/tools/nightly/latest/")
ABI_BINARIES = {
    "arm64-v8a": "android_aarch64_benchmark_model",
    "armeabi-v7a": "android_arm_benchmark_model",
}


def binary_name(abi: str) -> str:
    """The nightly file name for an ABI."""
    try:
        return ABI_BINARIES[abi]
    except KeyError:
        raise ToolError(f"no prebuilt benchmark_model for ABI {abi!r}: build one for it and "
                        "pass --benchmark-binary PATH") from None


def resolve_binary(abi: str, explicit: str | None = None, base_url: str | None = None,
                   timeout_s: float = 60.0) -> Path:
    """The local benchmark_model file for ``abi``: ``explicit``, the cache, or a download.

    ``base_url`` defaults to $DNNCOST_BENCHMARK_URL, else TensorFlow's nightly builds.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"--benchmark-binary {path} is not a file: pass the path of "
                             "a benchmark_model build for the device's ABI")
        return path
    name = binary_name(abi)
    cached = cache_dir() / name
    if cached.is_file():
        return cached
    url = (base_url or os.environ.get("DNNCOST_BENCHMARK_URL") or NIGHTLY_URL) + name
    partial: str | None = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as handle:
                partial = handle.name
                shutil.copyfileobj(response, handle)
        os.chmod(partial, 0o755)
        os.replace(partial, cached)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if partial and os.path.exists(partial):
            os.unlink(partial)
        reason = getattr(exc, "reason", None) or exc
        raise ToolError(
            f"benchmark_model for {abi} is not cached and cannot be downloaded ({reason}): "
            f"fetch {url} and save it as {cached}, or pass --benchmark-binary PATH") from None
    return cached
