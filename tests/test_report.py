import re

import numpy as np
import pytest
from PIL import Image

from dnncost.report import build_report
from dnncost.store import Store

from browser import chromium, render


def _evaluation(seed: int = 0) -> dict:
    """A stand-in evaluation for checking how the page renders (not a claimed result)."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(5, 200, 300)
    results = [{"regime": regime, "mode": "collaborative", "model": "lowrank", "sampling": s,
                "k": k, "metrics": dict(within10=float(50 + k), within5=30.0, spearman=0.9,
                                        mape=5.0, r2=0.95)}
               for regime in ("seen", "unseen") for s in ("random", "d_optimal") for k in (5, 10)]
    return {"results": results,
            "predictions": {"true_ms": true.tolist(),
                            "pred_ms": (true * rng.normal(1, 0.05, 300)).tolist(),
                            "device": [f"dev{i % 5}" for i in range(300)],
                            "network": [f"net{i}" for i in range(300)], "label": "test"},
            "signature": [{"name": "iiswc-001", "macs": 1.2e8}]}


def test_report_sections(iiswc_store_path, tmp_path):
    with Store(iiswc_store_path) as store:
        page = build_report(store, tmp_path / "report", _evaluation()).read_text()
    for heading in ("Accuracy", "Accuracy vs signature size", "Predicted vs measured",
                    "Worst predictions", "Signature networks", "Devices",
                    "Latency distribution per device"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<img") == 3 and "http" not in page.replace("data:image", "")
    assert "<td>GM1901_0</td><td>GM1901</td><td></td><td>118</td><td>0</td>" in page


@pytest.mark.skipif(chromium() is None, reason="Debian chromium is not installed")
def test_report_renders_in_headless_chromium(iiswc_store_path, tmp_path):
    with Store(iiswc_store_path) as store:
        page = build_report(store, tmp_path / "report", _evaluation())
    rendered = render(page, tmp_path)
    assert rendered.console == []
    assert re.search(r'data-images="3 ok"', rendered.dom), rendered.dom[-300:]
    image = Image.open(rendered.screenshot).convert("L")
    histogram = image.histogram()
    assert max(histogram) < 0.98 * sum(histogram), "screenshot is blank"


@pytest.mark.skipif(chromium() is None, reason="Debian chromium is not installed")
def test_broken_image_and_console_error_are_caught(iiswc_store_path, tmp_path):
    with Store(iiswc_store_path) as store:
        page = build_report(store, tmp_path / "report", _evaluation())
    text = page.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
    page.write_text(text.replace("</body>", "<script>console.error('oops')</script></body>"))
    rendered = render(page, tmp_path)
    assert any("oops" in line for line in rendered.console)
    assert 'data-images="3 broken"' in rendered.dom
