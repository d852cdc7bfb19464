"""`make demo`: the method on the embedded phones, three held out through ONNX, this
computer measured through the real bench path and placed against the phones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dnncost.demo import MainDemoOptions, run_main_demo
from dnncost.store import Store


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("main-demo")
    cache = tmp_path_factory.mktemp("demo-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        options = MainDemoOptions(str(out / "s.sqlite"), str(out), ks=(10,), folds=3,
                                  host_runs=2, host_warmup_runs=1, nas_specs=2, jobs=2)
        lines: list[str] = []
        result = run_main_demo(options, lines.append, show_progress=False)
        again: list[str] = []
        second = run_main_demo(options, again.append, show_progress=False)
    return options, lines, result, again, second


def test_the_main_job_on_the_embedded_phones(demo_run) -> None:
    options, lines, result, _, _ = demo_run
    text = "\n".join(lines)
    assert [line[:5] for line in lines if re.match(r"\[\d/5\]", line)] == [
        "[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"]
    assert "84 phones x 118 networks" in lines[0]
    labels = [row["label"] for row in result["rows"]]
    assert labels == ["MACs baseline (10 networks)", "lowrank d_optimal k=10",
                      "xgb mutual_info k=10"]
    baseline, default, trees = result["rows"]  # `make train`'s default is the most accurate
    assert default["within10"] > trees["within10"] > baseline["within10"]  # measured here
    assert "the paper" in text and "0.944" in text
    phones = result["held_out"]["phones"]
    assert list(phones) == ["Pixel_4_XL_0", "Redmi_Note5_Pro_0", "MotoG3_0"]
    assert all(m["pairs"] == 108 and m["within10"] > 70 for m in phones.values())
    assert all(Path(m["onnx"]).is_file() for m in phones.values())
    excluded = result["held_out"]["excluded"]
    assert {"Redmi_Note5_Pro_0", "Redmi_Note5_Pro_4"} <= set(excluded)  # whole phone models
    host = result["host"]
    assert host["device"].startswith("local-")
    assert "this device is a cpu device, the model learned from phones only" in host["warning"]
    assert "A desktop CPU is not a phone" in text
    with Store(options.store_path) as store:
        measured = store.measurements(host["device"])
    assert len(measured) == 10 and all(m.ok for m in measured)
    nas = [line for line in text.splitlines() if line.startswith("  r224 ")]
    assert len(nas) == 2 and all(float(v) > 0 for line in nas for v in line.split()[-3:])
    page = Path(result["report"]).read_text()
    assert "<h2>Predicted vs measured</h2>" in page and page.count("<img") == 3


def test_a_second_run_reuses_what_it_has(demo_run) -> None:
    options, _, first, again, second = demo_run
    assert second["rows"] == first["rows"]  # the evaluation is read back, not redone
    assert second["held_out"]["phones"] == first["held_out"]["phones"]
    assert not any("training the iiswc population model" in line for line in again)
