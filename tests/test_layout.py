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
