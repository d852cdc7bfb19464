"""The report's in-browser predictor: the JavaScript spec walker and .tflite reader give
Python's layer rows, and the page, driven in headless Chromium, predicts what Python does."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from dnncost.encoding import encode
from dnncost.errors import InputError
from dnncost.gen.layers import layer_table
from dnncost.gen.spec import parse_spec

WEB = Path(__file__).resolve().parents[1] / "export" / "web"
NODE_DIR = Path(__file__).resolve().parent / "node"
CHECK = """
const d = require(process.argv[2]);
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const rows = (f) => { try { return Array.from(f().rows); } catch (e) { return 'error: ' + e.message; } };
const pruned = (s) => rows(() => d.specRows(s, {deadCompute: 'pruned'}));
console.log(JSON.stringify({specs: input.specs.map((s) => rows(() => d.specRows(s))),
                            pruned: input.pruned.map(pruned),
                            tflite: input.tflite.map((p) => rows(() => d.tfliteRows(fs.readFileSync(p))))}));
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: install Node.js to run the JavaScript tests")
    return node


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Small networks built by gen (fp32 and int8): SE, h-swish, fire, maxpool, dw."""
    from dnncost.gen.tf_build import spec_to_tflite

    root = tmp_path_factory.mktemp("web-tflite")
    files = []
    for i, text in enumerate(["r64 conv_k3_s2_c8_ahswish ir_k3_s1_h16_c8_se4_ahswish gap "
                              "conv_k1_s1_c10",
                              "r64 conv_k3_s2_c16_arelu_pvalid maxpool_k3_s2 fire_h8_c32_arelu "
                              "maxpool_k3_s2_psame dw_k3_s1_arelu6 avgpool_k7 conv_k1_s1_c10"]):
        for precision, data in spec_to_tflite(parse_spec(text), ("fp32", "int8")).items():
            files.append(root / f"net{i}.{precision}.tflite")
            files[-1].write_bytes(data)
    return files


def test_the_javascript_layer_rows_equal_pythons(tmp_path: Path, tflite_files) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_spec_features import _random_specs

    from dnncost.gen.archs import fbnet_arch, nb201_arch, nb201_codes, pruned_spec
    from dnncost.gen.spaces import iiswc_networks, sample_specs
    from dnncost.gen.tflite_layers import tflite_layer_table

    rng = np.random.default_rng(21)
    specs = (_random_specs(300, seed=21) + [s.to_string() for _, _, s in iiswc_networks()]
             + [s.to_string() for space in ("mobileopt", "efficient", "nasbench201", "fbnet",
                                            "fbnet224") for s in sample_specs(space, 20, 2)]
             + [nb201_arch(code) for code in rng.choice(nb201_codes(), 40)]  # every edge kind
             + ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # a cell of zeros
                "  |skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"]
             + [fbnet_arch(form, tuple(int(i) for i in rng.integers(0, 9, 22)))
                for form in ("fbnet", "fbnet224") for _ in range(10)]
             + ["fbnet:" + ",".join(["8"] * 22), "fbnet: 1,\t2,\n" + ",".join(["3"] * 20),
                "r32_i5 conv_k3_s1_c16 cell_e100100 cell_e432104 res_s2_c32 relu hswish relu6 "
                "ir_k5_s2_h64_c32_se8_g4_ahswish ir_k3_s1_h32_c32_g2 gap conv_k1_s1_c10"])
    bad = ["", "x224 conv_k3_s1_c8", "r224", "r224 conv_k0_s1_c8", "r224 conv_k3_s1_c8_agelu",
           "r224 ds_k3_s1_h8_c8", "r224 fire_h4_c9", "r224 maxpool_k3", "r224 gap_pvalid",
           "r32 cell_e01234", "r32 cell_e012345", "r32 cell_e01234_arelu", "r32 res_s0_c8",
           "r32 res_s2", "r32 relu_k3", "r32 ir_k3_s1_h9_c8_g2", "r32 ds_k3_s1_c8_g2",
           "r32 fr_k3_s1_h8_c8_g2", "r32 ir_k3_s1_h8_c8_g0", "|nor_conv_3x3~0|+|bogus~0|",
           "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|", "fbnet:1,2",
           "fbnet:" + ",".join(["9"] * 22), "fbnet512:" + ",".join(["0"] * 22),
           "r8 ir_k3_s1_h8_c8_g4",  # 3 input channels in 4 groups
           "r32 conv_k3_s1_c\u0663\u0662", "r\u0662\u0662\u0664 gap", "r32\x1cconv_k3_s1_c8",
           "r32\u00a0conv_k3_s1_c8", "fbnet:" + ",".join(["\uff10"] * 22),
           "fbnet:" + ",".join(["1_0"] + ["0"] * 21), "\xa0fbnet:" + ",".join(["3"] * 22),
           "r32 conv_k3_s1_c8_pconstructor", "r32 avgpool_k2_ptoString"]  # read alike
    for text in bad:
        with pytest.raises(InputError):
            layer_table(parse_spec(text))
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(tflite_files[0].read_bytes()[:2000])
    (tmp_path / "check.js").write_text(CHECK)
    cells = [s for s in specs if "|" in s or "cell_e" in s]  # NAS-Bench-201 cells
    (tmp_path / "in.json").write_text(json.dumps({
        "specs": specs + bad, "pruned": cells,
        "tflite": [str(p) for p in tflite_files + [truncated]]}))
    done = subprocess.run([_node(), str(tmp_path / "check.js"), str(WEB / "dnncost.js"),
                           str(tmp_path / "in.json")], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["specs"][:len(specs)] == [encode(layer_table(parse_spec(s))).ravel().tolist()
                                         for s in specs]
    assert all(str(result).startswith("error:") for result in out["specs"][len(specs):])
    # a device model that says dead_compute: pruned reads cells as their pruned twins
    assert out["pruned"] == [encode(layer_table(parse_spec(pruned_spec(s)))).ravel().tolist()
                             for s in cells]
    runs = [out["specs"][specs.index(c)] for c in cells]
    assert sum(p != r for p, r in zip(out["pruned"], runs)) >= 10  # cells with dead edges
    assert out["tflite"][:-1] == [encode(tflite_layer_table(p)).ravel().tolist()
                                  for p in tflite_files]
    assert out["tflite"][-1].startswith("error: a corrupt TFLite model (truncated")  # as Python


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, iiswc_store_path: Path):
    """The predictor page with two phones' models, served over http on a free port."""
    from dnncost.report import web_runtime, write_predictor_page

    if web_runtime() is None:
        pytest.skip("ONNX Runtime Web is not installed: run `make node-deps`")
    root = tmp_path_factory.mktemp("web")
    models = _two_models(iiswc_store_path, root)
    page = write_predictor_page(root / "report", models, "r224 conv_k3_s2_c32 gap conv_k1_s1_c10")
    assert page is not None
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(page.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/predict.html", models
    server.shutdown()


def _two_models(store_path: Path, root: Path) -> dict[str, Path]:
    """Two phones held out of one lowrank model, adapted and exported."""
    from dnncost.artifacts import write_latency_csv
    from dnncost.export.pipeline import export_model_dir
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, train_to_dir
    from dnncost.store import Store

    phones = ("Pixel_4_XL_0", "MotoG3_0")
    with Store(store_path) as store:
        manifest = train_to_dir(store, TrainOptions(model="lowrank", sampling="d_optimal"),
                                root / "model", exclude_devices=phones)
        names = {n.id: n.name for n in store.networks()}
        measured = {p: {names[m.network_id]: m.median_ms for m in store.measurements(p)}
                    for p in phones}
    models = {}
    for phone in phones:
        signature = [(s["name"], measured[phone][s["name"]]) for s in manifest["signature"]]
        adapt_to_dir(root / "model", write_latency_csv(root / f"{phone}.csv", signature),
                     root / phone)
        models[phone] = root / f"{phone}.onnx"
        export_model_dir(root / phone, str(models[phone]), "onnx", store_path, phone)
    return models


def test_the_page_predicts_what_python_does_in_headless_chromium(served, tflite_files,
                                                                 tmp_path: Path) -> None:
    from PIL import Image

    from dnncost.export.runtime import Predictor

    from browser import chromium

    if chromium() is None:
        pytest.skip("Debian chromium is not installed")
    if not (NODE_DIR / "node_modules/playwright-core").is_dir():
        pytest.skip("playwright-core is not installed: run `make node-deps`")
    url, models = served
    spec = "r224 conv_k3_s2_c32_arelu ds_k3_s1_c16_arelu ir_k3_s2_h96_c24_arelu gap conv_k1_s1_c1000"
    other = "r160 conv_k3_s2_c16_ahswish ir_k5_s2_h64_c24_se16_ahswish gap conv_k1_s1_c100"
    shot = tmp_path / "page.png"
    done = subprocess.run([_node(), str(NODE_DIR / "browser.js"), url, "Pixel_4_XL_0", spec,
                           "MotoG3_0", other, str(tflite_files[0]), str(shot)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    pixel, moto = (Predictor.load(models[p]) for p in ("Pixel_4_XL_0", "MotoG3_0"))
    assert result["spec"] == pytest.approx(pixel.predict_spec(spec), rel=1e-4)
    assert result["other"] == pytest.approx(moto.predict_spec(other), rel=1e-4)
    assert result["tflite"] == pytest.approx(moto.predict_tflite(tflite_files[0]), rel=1e-4)
    assert "not valid" in result["bad"]
    assert not [line for line in result["console"] if "error" in line.lower()
                and "network spec" not in line]
    image = np.asarray(Image.open(shot).convert("L"), np.float64)
    assert image.std() > 10  # a rendered page, not a blank one
    ink = (image < 128).mean(axis=1)  # rows with dark text: the title, the form, the result
    assert (ink > 0.002).sum() > 40
