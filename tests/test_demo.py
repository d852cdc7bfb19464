"""The main job end to end, reduced: real gen, real local measurements, learn, ONNX."""

import math

import pytest

from dnncost.demo_local import DemoOptions, run_demo
from dnncost.export.runtime import Predictor
from dnncost.store import Store


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    options = DemoOptions(store_path=str(out / "s.sqlite"), out_dir=str(out), count=6,
                          runs=3, warmup_runs=1, k=3, ks=(3,),
                          samplings=("random", "d_optimal"), jobs=2)
    lines: list[str] = []
    evaluation = run_demo(options, lines.append, show_progress=False)
    return options, lines, evaluation


def test_reduced_demo_end_to_end(demo_run):
    options, lines, evaluation = demo_run
    with Store(options.store_path) as store:
        assert store.count("networks") == 6
        devices = [d.id for d in store.devices()]
        rows = store.measurements()
    assert len(devices) == 3 and all(d.startswith("local-") for d in devices)
    assert len(rows) == 18 and all(m.ok and m.runs == 3 for m in rows)
    # the accuracy table: one row per (sampling, k) plus the held-out ONNX row
    assert lines[0].startswith("[1/4] data: 6 networks x 3 devices, 18 measurements")
    assert any("held-out" in line and "(ONNX)" in line for line in lines)
    assert [(r["sampling"], r["k"]) for r in evaluation["results"]] == [("random", 3),
                                                                        ("d_optimal", 3)]
    held = evaluation["held_out"]
    assert held["pairs"] == 3 and all(math.isfinite(held[m]) for m in ("mape", "within10"))
    # the held-out device's predictions came from the exported model: same numbers again
    predictor = Predictor.load(f"{options.out_dir}/model.onnx")
    assert len(evaluation["predictions"]["pred_ms"]) == 3
    assert predictor.n_features > 0
    assert (f"{options.out_dir}/report/index.html").endswith("index.html")
    page = open(f"{options.out_dir}/report/index.html").read()
    assert "<h2>Worst predictions</h2>" in page and page.count("<img") == 3


def test_second_run_reuses_everything(demo_run):
    options, _, first = demo_run
    with Store(options.store_path) as store:
        before = store.rows("SELECT device_id, network_id, recorded_at FROM measurements")
    lines: list[str] = []
    second = run_demo(options, lines.append, show_progress=False)
    with Store(options.store_path) as store:
        after = store.rows("SELECT device_id, network_id, recorded_at FROM measurements")
    assert after == before  # nothing generated or measured again
    assert second["results"] == first["results"]  # seeded: the same evaluation


def test_measurements_of_another_config_are_named_as_left_out(demo_run, tmp_path):
    import shutil
    from dataclasses import replace

    options, _, _ = demo_run
    shutil.copy(options.store_path, tmp_path / "s.sqlite")
    with Store(tmp_path / "s.sqlite") as store:
        measured = store.measurements()[0]
        store.put_measurement(replace(measured, config={**measured.config, "precision": "fp32"}))
    lines: list[str] = []
    run_demo(replace(options, store_path=str(tmp_path / "s.sqlite"), out_dir=str(tmp_path)),
             lines.append, show_progress=False)
    [left_out] = [line for line in lines if "left out" in line]
    assert left_out.startswith("  left out: 1 measurements under another config ({")
    assert '"precision": "fp32"' in left_out and lines.index(left_out) == 1  # before [2/4]
