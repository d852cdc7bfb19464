"""Cross-language proof: Node.js (onnxruntime-node from npm) predicts what Python does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from dnncost.export.onnx_export import reference_model, relative_error
from test_export_helpers import feature_rows, trees_onnx  # noqa: F401  (fixture)

NODE_DIR = Path(__file__).resolve().parent / "node"
# The CPU binaries ship in the npm tarball; "skip" stops the install script fetching
# optional CUDA files from outside the npm registry.
INSTALL = ["npm", "ci", "--no-audit", "--no-fund"]
INSTALL_ENV = {"ONNXRUNTIME_NODE_INSTALL": "skip"}


@pytest.fixture(scope="module")
def node() -> str:
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        pytest.skip("node/npm not found: install Node.js to run the cross-language test")
    if not (NODE_DIR / "node_modules/onnxruntime-node").is_dir():
        done = subprocess.run(INSTALL, cwd=NODE_DIR, capture_output=True, text=True,
                              env={**os.environ, **INSTALL_ENV}, timeout=600)
        assert done.returncode == 0, f"npm ci in tests/node failed:\n{done.stderr[-2000:]}"
    return node_bin


def test_node_predictions_equal_python(node, trees_onnx, tmp_path):
    model, _, path = trees_onnx
    rows = feature_rows(64, seed=31)
    rows_json = tmp_path / "rows.json"
    rows_json.write_text(json.dumps([[None if np.isnan(v) else float(v) for v in row]
                                     for row in rows]))
    done = subprocess.run([node, str(NODE_DIR / "predict.js"), str(path), str(rows_json)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from_node = np.array(json.loads(done.stdout), np.float32)
    from_python = ort.InferenceSession(str(path)).run(None, {"features": rows})[0]
    np.testing.assert_array_equal(from_node, from_python)  # same runtime, same floats
    assert relative_error(from_node, reference_model(model).predict_ms(rows)) <= 1e-4
