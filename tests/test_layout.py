import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_stage_folders_install_under_dnncost(tmp_path):
    result = _python("import dnncost.gen, dnncost.bench, dnncost.learn, dnncost.export;"
                     "print(dnncost.learn.__file__)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == REPO / "learn" / "__init__.py"


def test_no_bare_stage_module(tmp_path):
    for name in ("gen", "bench", "learn", "export"):
        result = _python(f"import {name}", tmp_path)
        assert result.returncode != 0
        assert "ModuleNotFoundError" in result.stderr


def test_layout_folders_exist():
    for name in ("bench", "gen", "learn", "export", "android_native", "tests", "dnncost",
                 "benchmarks", "setup.cfg", "Makefile", "README.md", ".ci/run"):
        assert (REPO / name).exists(), name


def test_no_module_outside_the_store_holds_sql() -> None:
    """Every query is a typed method of dnncost/store/ (issue: the store owns its SQL)."""
    import re

    sql = re.compile(r"""["'](?:\s*)(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|PRAGMA)\s""",
                     re.IGNORECASE)
    offenders = []
    for folder in ("dnncost", "bench", "gen", "learn", "export"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.parent.name == "store" and path.parent.parent.name == "dnncost":
                continue
            offenders += [f"{path.relative_to(REPO)}:{n}" for n, line in
                          enumerate(path.read_text().splitlines(), 1) if sql.search(line)]
    assert offenders == []
