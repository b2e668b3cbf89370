"""The suite's report: JSON that round-trips, and one self-contained HTML file that a real
browser (Debian's headless Chromium) renders with the fixture image and its drawn boxes."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cvat.client import Invocation
from harness.cvat.findings import Finding
from harness.cvat.shapes import MASK_RLE, Shape, bitmap_to_rle
from harness.output.draw import EXPECTED_COLOR, label_color
from harness.output.plot import BAR, PERCENTILES, latency_histogram
from harness.output.report import (
    CheckResult,
    FixtureResult,
    ReportData,
    read_json,
    render_html,
    write_html,
    write_json,
)
from harness.output.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "fixtures" / "images" / "astronaut.jpg"
ROCKET = ROOT / "fixtures" / "images" / "rocket.jpg"
FACE_BOX = [176.0, 65.0, 272.0, 161.0]
RETURNED_BOX = [180.0, 70.0, 268.0, 158.0]
FAILURE = "recall 0.00 < 0.50 on astronaut\nsent: astronaut.jpg (512x512)\ngot: HTTP 200: []"
FAILED_RED = (207, 34, 46)


def detector_report() -> ReportData:
    return ReportData(
        function="face-detector",
        directory="sample_functions/face_detector",
        kind="detector",
        runner="process",
        cvat_version="2.73",
        started_at="2025-01-01T12:00:00+00:00",
        ready_s=1.5,
        checks=[
            CheckResult("test_schema[astronaut]", "schema", "astronaut", "passed", "", 0.1),
            CheckResult(
                "test_accuracy[astronaut]", "accuracy", "astronaut", "failed", FAILURE, 0.2
            ),
            CheckResult("test_latency", "latency", None, "passed", "", 1.1),
            CheckResult("test_concurrency", "concurrency", None, "skipped", "numWorkers is 1", 0),
        ],
        latencies_ms=[38.0 + (i % 7) * 2.5 for i in range(20)],
        budgets={"ready_s": 120.0, "p50_ms": 60.0, "p95_ms": 80.0, "p99_ms": 5000.0},
        fixtures=[
            FixtureResult(
                name="astronaut",
                image=str(ASTRONAUT),
                image_size=(512, 512),
                sent="astronaut.jpg (512x512), threshold 0.5",
                expected=[Shape("face", "rectangle", FACE_BOX)],
                returned=[Shape("face", "rectangle", RETURNED_BOX, 0.93)],
                findings=["warning: [0].confidence: 1.2 is above 1 (CVAT stores 1.0)"],
                status=200,
            )
        ],
    )


def interactor_report() -> ReportData:
    bits = [1 if 10 <= i % 40 < 30 else 0 for i in range(40 * 60)]
    mask = Shape("", "mask", [*map(float, bitmap_to_rle(bits)), 300, 100, 339, 159], None)
    mask.encoding = MASK_RLE
    return ReportData(
        function="rocket-interactor",
        directory="sample_functions/interactor",
        kind="interactor",
        runner="docker",
        cvat_version="2.73",
        started_at="2025-01-01T12:05:00+00:00",
        checks=[CheckResult("test_schema[rocket]", "schema", "rocket", "passed", "", 0.3)],
        fixtures=[FixtureResult("rocket", str(ROCKET), None, "pos [[320, 130]]", [], [mask])],
    )


def test_json_round_trips(tmp_path: Path):
    reports = [detector_report(), interactor_report()]
    path = write_json(reports, tmp_path / "out" / "report.json")
    document = json.loads(path.read_text())
    assert document["format"] == "cvat-fn-report"
    assert document["verdict"] == "failed"
    assert document["counts"] == {"passed": 3, "failed": 1, "error": 0, "skipped": 1}
    first = document["functions"][0]
    assert first["fixtures"][0]["returned"] == [
        {
            "label": "face",
            "type": "rectangle",
            "points": RETURNED_BOX,
            "box": RETURNED_BOX,
            "confidence": 0.93,
            "encoding": "",
        }
    ]
    assert first["fixtures"][0]["image_size"] == [512, 512]
    assert first["percentiles_ms"]["p50"] == pytest.approx(percentile(first["latencies_ms"], 50))
    assert document["functions"][1]["fixtures"][0]["returned"][0]["encoding"] == "rle"
    assert read_json(path) == reports


def test_single_report_is_written_as_a_list_of_one(tmp_path: Path):
    path = write_json(interactor_report(), tmp_path / "one.json")
    assert [r.function for r in read_json(path)] == ["rocket-interactor"]
    assert json.loads(path.read_text())["verdict"] == "passed"


def test_verdicts():
    report = detector_report()
    assert report.verdict == "failed"
    report.checks = [c for c in report.checks if c.outcome != "failed"]
    assert report.verdict == "passed"
    report.checks.append(CheckResult("t", "lint", None, "error", "boom", 0))
    assert report.verdict == "failed"
    report.checks = [CheckResult("t", "lint", None, "skipped", "", 0)]
    assert report.verdict == "no checks"


def test_fixture_result_from_an_invocation():
    inv = Invocation(
        kind="detector",
        sent="astronaut.jpg (512x512), threshold 0.5",
        request={},
        image_size=(512, 512),
        status=200,
        body=[{"label": "face", "type": "rectangle", "points": RETURNED_BOX, "confidence": 2}],
        findings=[Finding("warning", "[0].confidence", "2.0 is above 1", "2.73")],
    )
    result = FixtureResult.from_invocation("astronaut", ASTRONAUT, inv)
    assert result.returned[0].points == RETURNED_BOX and result.status == 200
    assert result.findings == ["warning: [0].confidence: 2.0 is above 1"]


def test_html_is_self_contained_and_escaped(tmp_path: Path):
    report = detector_report()
    report.checks[1].message = "box <script>alert(1)</script> & more"
    text = write_html([report, interactor_report()], tmp_path / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text and "&lt;script&gt;" in text
    assert not re.search(r"""(src|href)=["'](?!data:)""", text), "every asset is embedded"
    assert "http://" not in text and "https://" not in text
    assert "FAILED" in text and "face-detector" in text and "rocket-interactor" in text
    assert text.count("data:image/png;base64,") == 4  # two fixture images, two histograms
    assert "<pre>box &lt;script&gt;" in text, "the failure's message is shown in full"


def test_html_names_an_image_it_cannot_read(tmp_path: Path):
    report = interactor_report()
    report.fixtures[0].image = str(tmp_path / "gone.jpg")
    text = render_html(report)
    assert "cannot be shown" in text and "gone.jpg" in text


def test_latency_histogram_has_bars_and_percentile_lines():
    latencies = [40.0 + (i % 10) for i in range(50)]
    img = np.asarray(latency_histogram(latencies, {"p50_ms": 60.0, "p95_ms": 70.0}))
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert BAR in colours
    for _, _, color in PERCENTILES:
        assert color in colours
    empty = np.asarray(latency_histogram([], {"p50_ms": 60.0})).reshape(-1, 3)
    assert not (empty == BAR).all(axis=1).any()


def test_percentile_interpolates_like_numpy():
    values = [3.0, 1.0, 10.0, 7.5, 2.0, 8.0]
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# -- in a real browser ------------------------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def embedded_image(html_text: str, alt: str) -> Image.Image:
    m = re.search(rf'<img alt="{re.escape(alt)}" src="data:image/png;base64,([^"]+)"', html_text)
    assert m, f"no embedded image for {alt}"
    return Image.open(io.BytesIO(base64.b64decode(m.group(1)))).convert("RGB")


def test_html_screenshot_shows_the_drawn_fixture(tmp_path: Path):
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install -y chromium)")
    import cv2

    html_path = write_html([detector_report(), interactor_report()], tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            html_path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    page = np.asarray(Image.open(shot).convert("RGB"))
    assert page.shape[:2] == (2000, 1280)
    packed = (
        (page[..., 0].astype(np.int32) << 16) | (page[..., 1].astype(np.int32) << 8) | page[..., 2]
    )
    assert len(np.unique(packed)) > 2000, "a rendered page, not a blank one"
    banner = page[5:40, 5:1275].reshape(-1, 3).astype(int)
    assert (np.abs(banner - FAILED_RED).max(axis=1) <= 8).mean() > 0.8, "a red FAILED banner"

    # Find the drawn astronaut (its top, where the face is) on the page, then read its boxes.
    drawn = np.asarray(embedded_image(html_path.read_text(), "astronaut"))
    template = drawn[:200]
    found = cv2.matchTemplate(
        cv2.cvtColor(page, cv2.COLOR_RGB2BGR),
        cv2.cvtColor(template, cv2.COLOR_RGB2BGR),
        cv2.TM_CCOEFF_NORMED,
    )
    _, score, _, (left, top) = cv2.minMaxLoc(found)
    assert score > 0.95, "the drawn fixture image is on the page at its natural size"

    def colour_near(x: float, y: float, want: tuple[int, int, int]) -> bool:
        patch = page[top + int(y) - 2 : top + int(y) + 3, left + int(x) - 2 : left + int(x) + 3]
        return bool((np.abs(patch.reshape(-1, 3).astype(int) - want).max(axis=1) <= 12).any())

    xtl, ytl, xbr, ybr = RETURNED_BOX
    face = label_color("face")
    assert colour_near(xbr, (ytl + ybr) / 2, face), "the returned box's right edge"
    assert colour_near((xtl + xbr) / 2, ybr, face), "the returned box's bottom edge"
    ex_xbr, ex_ytl, ex_ybr = FACE_BOX[2], FACE_BOX[1], FACE_BOX[3]
    expected_edge = [
        colour_near(ex_xbr, y, EXPECTED_COLOR) for y in range(int(ex_ytl), int(ex_ybr))
    ]
    assert any(expected_edge), "the expected (green, dashed) box"
    assert not colour_near((xtl + xbr) / 2, (ytl + ybr) / 2, face), "the face itself is not painted"
