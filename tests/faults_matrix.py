"""The fault matrix: hostile and unlucky input to the CLI, one row a case.

Each case prepares its input in a fresh world (a store with the embedded phones, a
trained model, a device model and its .onnx), runs one dnncost command as a user would
(a subprocess: real exit status, stdout and stderr), and says what must come out: the
exit status, a fragment of the one-line message, and that the store holds the rows it
held before (nothing lost, nothing half written). tests/test_faults.py runs every case;
benchmarks/faults.py prints the matrix.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
DNNCOST = [str(Path(sys.executable).parent / "dnncost")]
TABLES = ("networks", "layers", "devices", "measurements", "canaries")


@dataclass
class World:
    """What the cases work on; ``clean`` is copied into each case's ``root``."""

    root: Path
    store: Path
    model: Path
    device: Path
    onnx: Path
    phone_csv: Path


@dataclass
class Case:
    name: str
    argv: Callable[[World], list[str]]  # the command's arguments (after `dnncost`)
    exit: int
    message: str  # fragment of stderr (or stdout, for a 0 exit)
    setup: Callable[[World], None] = lambda world: None
    stdin: Callable[[World], bytes] = lambda world: b""
    fsize: int | None = None  # RLIMIT_FSIZE bytes: writes past it fail (a full disk)
    unprivileged: bool = False  # run without root's power to write read-only files
    check: Callable[[World], str | None] = lambda world: None  # extra check, None is fine


@dataclass
class Result:
    name: str
    passed: bool
    exit: int
    line: str
    rows_lost: int
    problems: list[str] = field(default_factory=list)


def counts(store: Path) -> dict[str, int]:
    """Rows per table ({} for no store, or one SQLite cannot read)."""
    if not store.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    except sqlite3.DatabaseError:
        return {}


@functools.lru_cache(maxsize=1)
def can_run_unprivileged() -> bool:
    """Whether a case can run without root's power (not root, or a user namespace)."""
    if os.getuid() != 0:
        return True
    try:
        return subprocess.run(["unshare", "--user", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def run(args: list[str], stdin: bytes = b"", fsize: int | None = None, cwd: Path | None = None,
        timeout: float = 300, unprivileged: bool = False) -> subprocess.CompletedProcess[bytes]:
    def limit() -> None:
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    # Root writes read-only files: a new user namespace drops that power but keeps the
    # owner's own (read) rights, so the files stay readable and the interpreter runnable.
    prefix = ["unshare", "--user"] if unprivileged and os.getuid() == 0 else []
    env = {**os.environ, "DNNCOST_STORE": "", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(prefix + DNNCOST + args, input=stdin, capture_output=True,
                          timeout=timeout, preexec_fn=limit, cwd=cwd, env=env)


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _edit_json(path: Path, change: Callable[[dict], object]) -> None:
    value = json.loads(path.read_text())
    path.write_text(json.dumps(change(value)))


def _set(key: str, value: object) -> Callable[[dict], dict]:
    return lambda d: {**d, key: value}


def _no_file(pattern: str) -> Callable[[World], str | None]:
    def check(world: World) -> str | None:
        found = sorted(str(p) for p in world.root.rglob(pattern))
        return f"left behind: {found}" if found else None
    return check


def _spec_of(blocks: int) -> str:
    return "r224 conv_k3_s2_c16 " + " ".join(["ir_k3_s1_h16_c16_arelu"] * blocks) + " gap"


CASES: tuple[Case, ...] = (
    Case("import-csv: not UTF-8", lambda w: ["data", "import-csv", str(w.root / "x.csv"),
                                             "--store", str(w.store)], 2, "not UTF-8",
         setup=lambda w: _write(w.root / "x.csv", b"device,network,latency_ms\n\xff\xfe,a,1\n")),
    Case("import-csv: a field of 200,000 characters",
         lambda w: ["data", "import-csv", str(w.root / "x.csv"), "--store", str(w.store)], 2,
         "not a CSV file", setup=lambda w: _write(
             w.root / "x.csv", "device,network,latency_ms\n" + "d," + "n" * 200_000 + ",1\n")),
    Case("import-csv: a UTF-8 BOM before the header (imports)",
         lambda w: ["data", "import-csv", str(w.root / "x.csv"), "--store", str(w.store)], 0,
         "imported 1 measurements", setup=lambda w: _write(
             w.root / "x.csv", "\ufeffdevice,network,latency_ms\nnew-phone,iiswc-001,5.5\n")),
    Case("import-csv: one measurement on two lines",
         lambda w: ["data", "import-csv", str(w.root / "x.csv"), "--store", str(w.store)], 2,
         "also on line 2", setup=lambda w: _write(
             w.root / "x.csv", "device,network,latency_ms\nd,iiswc-001,5\nd,iiswc-001,6\n")),
    Case("adapt: measurements not UTF-8",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.root / "m.csv"), "-o",
                    str(w.root / "out")], 2, "not a UTF-8",
         setup=lambda w: _write(w.root / "m.csv", b"network,latency_ms\n\xff,1\n")),
    Case("predict --specs -: stdin not UTF-8",
         lambda w: ["predict", str(w.onnx), "--specs", "-"], 2, "not UTF-8",
         stdin=lambda w: b"r224 conv_k3_s2_c8\n\xff\xfe\n"),
    Case("import-iiswc: a device file not UTF-8",
         lambda w: ["data", "import-iiswc", str(w.root / "iiswc"), "--store", str(w.store)], 2,
         "not UTF-8", setup=lambda w: _bad_iiswc(w)),
    Case("adapt: model.json not JSON",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.root / "out")], 2, "cannot be read",
         setup=lambda w: _write(w.model / "model.json", "{not json")),
    Case("adapt: model.json a list",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.root / "out")], 2, "not a JSON object",
         setup=lambda w: _write(w.model / "model.json", "[1, 2]")),
    Case("adapt: estimator.json missing its estimator",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.root / "out")], 2, "damaged model",
         setup=lambda w: _write(w.model / "estimator.json", "{}")),
    Case("adapt: a booster path out of the directory",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.root / "out")], 2, "damaged model",
         setup=lambda w: _write(w.model / "estimator.json", (w.model / "estimator.json")
                                .read_text().replace("booster_0.json", "../../../etc/passwd"))),
    Case("predict: device model with a NaN bias",
         lambda w: ["predict", str(w.device), "--networks", "iiswc-001", "--store",
                    str(w.store)], 2, "damaged device model",
         setup=lambda w: _edit_json(w.device / "device_model.json",
                                    _set("bias_log_ms", float("nan")))),
    Case("predict: device model naming ../../etc/passwd",
         lambda w: ["predict", str(w.device), "--networks", "iiswc-001", "--store",
                    str(w.store)], 2, "damaged device model",
         setup=lambda w: _edit_json(w.device / "device_model.json", lambda d: {
             **d, "trees": [{**t, "file": "../../etc/passwd"} for t in d["trees"]]})),
    Case("predict: device model without its keys",
         lambda w: ["predict", str(w.device), "--networks", "iiswc-001", "--store",
                    str(w.store)], 2, "damaged device model",
         setup=lambda w: _write(w.device / "device_model.json", '{"format_version": 2}')),
    Case("data info: a store with corrupted pages",
         lambda w: ["data", "info", "--store", str(w.store)], 2, "store",
         setup=lambda w: _corrupt(w.store)),
    Case("data info: schema_version 'one'",
         lambda w: ["data", "info", "--store", str(w.store)], 2, "schema version one",
         setup=lambda w: _sql(w.store, "UPDATE meta SET value='one' WHERE key='schema_version'")),
    Case("data info: a read-only store on read-only media (reads work)",
         lambda w: ["data", "info", "--store", str(w.store)], 0, "84 devices",
         setup=lambda w: _read_only(w.store), unprivileged=True),
    Case("data info: a store that does not exist (nothing created)",
         lambda w: ["data", "info", "--store", str(w.root / "none.sqlite")], 2, "does not exist",
         check=lambda w: "created a store" if (w.root / "none.sqlite").exists() else None),
    Case("report: a store that does not exist (nothing created)",
         lambda w: ["report", "--store", str(w.root / "none.sqlite"), "-o",
                    str(w.root / "rep")], 2, "does not exist",
         check=lambda w: "created a store" if (w.root / "none.sqlite").exists() else None),
    Case("report --held-out: an unknown device, refused before the evaluation",
         lambda w: ["report", "--store", str(w.store), "--held-out", "no-such-phone", "-o",
                    str(w.root / "rep")], 2, "unknown held-out device"),
    Case("export -o: a directory", lambda w: ["export", str(w.device), "-o", str(w.root),
                                              "--store", str(w.store)], 2, "not a directory"),
    Case("adapt -o: an existing file",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.phone_csv)], 2, "is a file"),
    Case("predict --csv: a missing directory (made)",
         lambda w: ["predict", str(w.device), "--networks", "iiswc-001", "--store",
                    str(w.store), "--csv", str(w.root / "new/dir/x.csv")], 0, "wrote 1",
         check=lambda w: None if (w.root / "new/dir/x.csv").is_file() else "no CSV written"),
    Case("doctor --adb garbage", lambda w: ["doctor", "--adb", "garbage"], 2, "not HOST:PORT"),
    Case("a 5,000-character --store", lambda w: ["data", "info", "--store", "s" * 5000], 2,
         "cannot be opened"),
    Case("bench --timeout -1", lambda w: ["bench", "--device", "local", "--timeout", "-1",
                                          "--store", str(w.store)], 2, "timeout"),
    Case("disk full during import-iiswc", lambda w: ["data", "import-iiswc", "--store",
                                                     str(w.root / "full.sqlite")], 2,
         "free disk space", fsize=1 << 20),
    Case("disk full during gen (no model file left)",
         lambda w: ["gen", "--count", "1", "--jobs", "1", "--store", str(w.root / "g.sqlite"),
                    "--out", str(w.root / "gen")], 2, "free disk space", fsize=200 << 10,
         check=lambda w: _no_file("*.tflite")(w)),
    Case("disk full during export (no .tmp left)",
         lambda w: ["export", str(w.device), "-o", str(w.root / "x.onnx"), "--store",
                    str(w.store)], 2, "cannot write", fsize=64 << 10,
         check=lambda w: _no_file("x.onnx*")(w)),
    Case("disk full during train (no empty booster left)",
         lambda w: ["train", "--store", str(w.store), "-o", str(w.root / "m2")], 2,
         "cannot write", fsize=200 << 10, check=lambda w: _no_file("*.tmp")(w)),
    Case("disk full during adapt",
         lambda w: ["adapt", str(w.model), "--measurements", str(w.phone_csv), "-o",
                    str(w.root / "d2")], 2, "cannot write", fsize=100 << 10,
         check=lambda w: _no_file("*.tmp")(w)),
    Case("predict: a 20,000-block spec (warned, not refused)",
         lambda w: ["predict", str(w.onnx), "--specs", "-"], 0,
         "outside the training networks' range", stdin=lambda w: _spec_of(20000).encode()),
    Case("import-csv: a device named models/../../../../tmp/x, then report (no file outside)",
         lambda w: ["report", "--store", str(w.store), "--held-out",
                    "models/../../x", "-o", str(w.root / "rep"), "--signature-size", "5"], 0,
         "report:", setup=lambda w: _traversal(w),
         check=lambda w: _outside(w)),
)


def _bad_iiswc(world: World) -> None:
    from dnncost.population import read_population, write_directory

    directory = write_directory(read_population(), world.root / "iiswc")
    (directory / "mobileData" / "GM1901_0.txt").write_bytes(b"\xff\xfe1.0,2.0\n" * 118)


def _corrupt(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(store.read_bytes())
    for offset in range(8192, len(data) - 4096, 4096 * 7):  # damage pages, keep the header
        data[offset:offset + 512] = b"\x5a" * 512
    store.write_bytes(bytes(data))


def _sql(store: Path, statement: str) -> None:
    with sqlite3.connect(store) as db:
        db.execute(statement)


def _read_only(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in (".sqlite-wal", ".sqlite-shm"):
        Path(str(store).replace(".sqlite", extra)).unlink(missing_ok=True)
    store.chmod(0o444)
    store.parent.chmod(0o555)


def _traversal(world: World) -> None:
    """A store of three devices that measured the 118 networks; one is named to climb out
    of -o (as an imported CSV can name it)."""
    from dataclasses import replace

    from dnncost.records import Device
    from dnncost.store import Store

    fresh = world.root / "three.sqlite"
    with Store(world.store) as source, Store(fresh) as store:
        rows = source.measurements("Pixel_4_XL_0")
        for network in source.networks():
            store.put_network(network, source.layers(network.id))
        for scale, name in ((1.0, "models/../../x"), (1.3, "phone-b"), (0.7, "phone-c")):
            store.put_device(Device(name, info={"source": "csv"}))
            for m in rows:
                store.put_measurement(replace(m, device_id=name,
                                              median_ms=m.median_ms * scale))
        store.checkpoint()
    world.store.unlink()
    shutil.move(fresh, world.store)


def _outside(world: World) -> str | None:
    escaped = [p for p in (world.root.parent / "x", world.root / "x") if p.exists()]
    inside = all(str(p.resolve()).startswith(str((world.root / "rep").resolve()))
                 for p in (world.root / "rep").rglob("*"))
    return f"wrote outside -o: {escaped}" if escaped or not inside else None


def make_world(root: Path) -> World:
    """The world every case starts from (built once, copied per case)."""
    from dnncost.artifacts import write_latency_csv
    from dnncost.importers import import_iiswc
    from dnncost.store import Store

    root.mkdir(parents=True, exist_ok=True)
    store = root / "store.sqlite"
    with Store(store) as s:
        import_iiswc(s)
        names = {n.id: n.name for n in s.networks()}
        phone = {names[m.network_id]: 1.3 * m.median_ms for m in s.measurements("Pixel_4_XL_0")}
        s.checkpoint()
    phone_csv = write_latency_csv(root / "phone.csv", sorted(phone.items()))
    for args in (["train", "--store", str(store), "-o", str(root / "model")],
                 ["adapt", str(root / "model"), "--measurements", str(phone_csv), "-o",
                  str(root / "device")],
                 ["export", str(root / "device"), "-o", str(root / "model.onnx"), "--store",
                  str(store)]):
        done = run(args)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return World(root, store, root / "model", root / "device", root / "model.onnx", phone_csv)


def run_case(case: Case, clean: World, root: Path) -> Result:
    """Copy the clean world into ``root``, prepare the case, run it, judge it."""
    shutil.copytree(clean.root, root)
    world = World(root, *(root / p.relative_to(clean.root) for p in (
        clean.store, clean.model, clean.device, clean.onnx, clean.phone_csv)))
    case.setup(world)
    before = counts(world.store) if os.access(world.store.parent, os.W_OK) else {}
    done = run(case.argv(world), case.stdin(world), case.fsize, cwd=root, unprivileged=case.unprivileged)
    for path in (world.store.parent,):  # undo a read-only case before looking
        path.chmod(0o755)
    err = done.stderr.decode(errors="replace").strip()
    out = err if done.returncode else done.stdout.decode(errors="replace").strip() + "\n" + err
    lines = out.splitlines()
    line = (lines[-1] if lines else "")
    problems = []
    if done.returncode != case.exit:
        problems.append(f"exit {done.returncode}, expected {case.exit}")
    if case.message not in out:
        problems.append(f"no {case.message!r} in the output")
    if done.returncode == 2 and (len(lines) != 1 or "Traceback" in out):
        problems.append(f"{len(lines)} lines, expected one")
    if len(line) > 400:
        problems.append(f"a {len(line)}-character message")
    after = counts(world.store) if world.store.exists() else {}
    lost = sum(max(before.get(t, 0) - after.get(t, 0), 0) for t in before)
    if lost:
        problems.append(f"{lost} rows lost")
    extra = case.check(world)
    if extra:
        problems.append(extra)
    return Result(case.name, not problems, done.returncode, line[:160], lost, problems)
