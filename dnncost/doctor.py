"""`dnncost doctor`: check the environment and say what to do about each problem."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

from dnncost.errors import DnncostError
from dnncost.store import Store

# (import name, stage that needs it)
PACKAGES = (
    ("tensorflow", "gen"), ("torch", "gen, learn"), ("torchprofile", "gen"),
    ("ai_edge_litert", "bench --device local"), ("adbutils", "bench"),
    ("xgboost", "learn"), ("onnx", "export"), ("onnxruntime", "export"),
    ("onnxmltools", "export"), ("pyarrow", "data export --format parquet"),
)


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str


def package_checks() -> list[Check]:
    """Each optional dependency: importable or not (without importing it)."""
    return [Check(f"python package {name}", importlib.util.find_spec(name) is not None,
                  f"needed by {stage}" if importlib.util.find_spec(name) else
                  f"missing (needed by {stage}): run `make install`")
            for name, stage in PACKAGES]


def store_check(path: str) -> Check:
    """Whether the store opens, its schema version, and what it holds."""
    if not Path(path).exists():
        return Check(f"store {path}", False, "does not exist yet: `dnncost gen`, "
                     "`dnncost data import-iiswc DIR` or `make demo` create it")
    try:
        with Store(path, create=False) as store:
            version = store.schema_version()
            counts = {t: store.count(t) for t in ("networks", "devices", "measurements")}
    except DnncostError as exc:
        return Check(f"store {path}", False, str(exc))
    return Check(f"store {path}", True, f"schema version {version}, " +
                 ", ".join(f"{n} {t}" for t, n in counts.items()))


def run_checks(store_path: str, adb_servers: list[str]) -> list[Check]:
    """All checks, in the order a user would fix them (InputError for an --adb that is
    not HOST:PORT)."""
    import re

    from dnncost.errors import InputError, shown

    for server in adb_servers:
        port = server.rpartition(":")[2]
        if not re.fullmatch(r"[^\s:]+:\d{1,5}", server) or not 0 < int(port) < 65536:
            raise InputError(f"--adb {shown(server)!r} is not HOST:PORT (e.g. 192.168.1.5:5037)")
    checks = package_checks() + [store_check(store_path)]
    try:
        from dnncost.bench.health import adb_findings, binary_findings
    except ImportError as exc:
        return checks + [Check("bench", False, f"cannot load ({exc}): run `make install`")]
    return checks + [Check(*f) for f in adb_findings(adb_servers) + binary_findings()]
