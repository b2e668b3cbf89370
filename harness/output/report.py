"""The suite's verdict as JSON (for machines) and as one self-contained HTML file (for people):
checks with their outcomes, each fixture image with the expected and returned shapes drawn, and
the warm-latency histogram. The HTML embeds every image as a data URI and needs no script, so
it can be kept as a CI artifact and opened anywhere."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from harness.cvat.shapes import Shape
from harness.output.draw import draw_shapes, png_bytes
from harness.output.plot import PERCENTILES, budget_for, latency_histogram
from harness.output.stats import percentile

if TYPE_CHECKING:
    from PIL import Image

    from harness.cvat.client import Invocation

Outcome = Literal["passed", "failed", "skipped", "error"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")
REPORT_FORMAT = "cvat-fn-report"
REPORT_VERSION = 1
MAX_IMAGE_SIDE = 800
"""Drawn fixture images larger than this are scaled down in the HTML, to keep it small."""
SHOWN_SHAPES = 25


@dataclass
class CheckResult:
    id: str
    check: str
    fixture: str | None
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0


@dataclass
class FixtureResult:
    """One fixture sent to the function: what was sent, expected and returned."""

    name: str
    image: str
    image_size: tuple[int, int] | None = None
    sent: str = ""
    expected: list[Shape] = field(default_factory=list)
    returned: list[Shape] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    status: int | None = None
    picture: bytes | None = None
    """The frame itself when it is not a file (a transformed frame the geometry check sent);
    drawn in the HTML, left out of the JSON."""

    @classmethod
    def from_invocation(
        cls, name: str, image: str | Path, inv: Invocation, expected: Sequence[Shape] = ()
    ) -> FixtureResult:
        findings = [str(f) for f in inv.findings]
        if inv.error:
            findings.insert(0, f"no answer: {inv.error}")
        return cls(
            name=name,
            image=str(image),
            image_size=inv.frame_size or inv.image_size,  # the shapes are the frame's
            sent=inv.sent,
            expected=list(expected),
            returned=inv.shapes,
            findings=findings,
            status=inv.status,
        )


@dataclass
class ReportData:
    """Everything the suite found out about one function."""

    function: str
    directory: str
    kind: str
    runner: str
    cvat_version: str
    started_at: str
    ready_s: float | None = None
    checks: list[CheckResult] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    budgets: dict[str, float] = field(default_factory=dict)
    """cvat-fn.yaml's budgets by field name: ``ready_s``, ``p50_ms``, ``p95_ms``, ``p99_ms``..."""
    fixtures: list[FixtureResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {o: sum(c.outcome == o for c in self.checks) for o in OUTCOMES}

    @property
    def verdict(self) -> str:
        return _verdict(self.counts())

    def percentiles_ms(self) -> dict[str, float]:
        if not self.latencies_ms:
            return {}
        return {name: percentile(self.latencies_ms, q) for name, q, _ in PERCENTILES}

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "directory": self.directory,
            "kind": self.kind,
            "runner": self.runner,
            "cvat_version": self.cvat_version,
            "started_at": self.started_at,
            "ready_s": self.ready_s,
            "verdict": self.verdict,
            "counts": self.counts(),
            "checks": [
                {
                    "id": c.id,
                    "check": c.check,
                    "fixture": c.fixture,
                    "outcome": c.outcome,
                    "message": c.message,
                    "duration_s": c.duration_s,
                }
                for c in self.checks
            ],
            "latencies_ms": list(self.latencies_ms),
            "percentiles_ms": self.percentiles_ms(),
            "budgets": dict(self.budgets),
            "fixtures": [
                {
                    "name": f.name,
                    "image": f.image,
                    "image_size": list(f.image_size) if f.image_size else None,
                    "sent": f.sent,
                    "status": f.status,
                    "expected": [s.to_json() for s in f.expected],
                    "returned": [s.to_json() for s in f.returned],
                    "findings": list(f.findings),
                }
                for f in self.fixtures
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportData:
        """The inverse of :meth:`to_json` (derived keys such as ``verdict`` are recomputed)."""
        return cls(
            function=data["function"],
            directory=data["directory"],
            kind=data["kind"],
            runner=data["runner"],
            cvat_version=data["cvat_version"],
            started_at=data["started_at"],
            ready_s=data.get("ready_s"),
            checks=[
                CheckResult(
                    id=c["id"],
                    check=c["check"],
                    fixture=c.get("fixture"),
                    outcome=cast(Outcome, c["outcome"]),
                    message=c.get("message", ""),
                    duration_s=float(c.get("duration_s", 0.0)),
                )
                for c in data.get("checks", [])
            ],
            latencies_ms=[float(v) for v in data.get("latencies_ms", [])],
            budgets={k: float(v) for k, v in data.get("budgets", {}).items()},
            fixtures=[
                FixtureResult(
                    name=f["name"],
                    image=f["image"],
                    image_size=(
                        (int(f["image_size"][0]), int(f["image_size"][1]))
                        if f.get("image_size")
                        else None
                    ),
                    sent=f.get("sent", ""),
                    expected=[shape_from_json(s) for s in f.get("expected", [])],
                    returned=[shape_from_json(s) for s in f.get("returned", [])],
                    findings=list(f.get("findings", [])),
                    status=f.get("status"),
                )
                for f in data.get("fixtures", [])
            ],
        )


def shape_from_json(data: dict[str, Any]) -> Shape:
    return Shape(
        label=data.get("label", ""),
        type=data["type"],
        points=[float(v) for v in data.get("points", [])],
        confidence=data.get("confidence"),
        attributes=list(data.get("attributes", [])),
        elements=[shape_from_json(e) for e in data.get("elements", [])],
        encoding=data.get("encoding", ""),
    )


def _verdict(counts: dict[str, int]) -> str:
    if counts["failed"] or counts["error"]:
        return "failed"
    return "passed" if counts["passed"] else "no checks"


def _as_list(data: ReportData | Sequence[ReportData]) -> list[ReportData]:
    return [data] if isinstance(data, ReportData) else list(data)


def _total(reports: Sequence[ReportData]) -> dict[str, int]:
    return {o: sum(r.counts()[o] for r in reports) for o in OUTCOMES}


def to_document(data: ReportData | Sequence[ReportData]) -> dict[str, Any]:
    reports = _as_list(data)
    counts = _total(reports)
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "verdict": _verdict(counts),
        "counts": counts,
        "functions": [r.to_json() for r in reports],
    }


def write_json(data: ReportData | Sequence[ReportData], path: str | Path) -> Path:
    """``{"format", "version", "verdict", "counts", "functions": [...]}``, one item a function."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(to_document(data), indent=2) + "\n", encoding="utf-8")
    return target


def read_json(path: str | Path) -> list[ReportData]:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path}: not a cvat-fn report")
    return [ReportData.from_json(item) for item in document["functions"]]


# -- HTML -------------------------------------------------------------------------------------

CSS = """
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1f2328;background:#f6f8fa}
.banner{padding:18px 32px;color:#fff}
.banner h1{margin:0;font-size:26px;letter-spacing:.5px}
.banner p{margin:4px 0 0;opacity:.92}
.passed-bg{background:#1a7f37}.failed-bg{background:#cf222e}.none-bg{background:#6e7781}
main{max-width:1240px;margin:0 auto;padding:4px 24px 40px}
section.fn{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 22px;
 margin:20px 0}
h2{margin:4px 0 8px;font-size:21px}h3{margin:22px 0 8px;font-size:16px;
 border-bottom:1px solid #d8dee4;padding-bottom:4px}h4{margin:0 0 6px;font-size:15px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
table.meta{width:auto}table.meta th{background:none;padding-left:0;color:#57606a}
.badge{display:inline-block;min-width:52px;text-align:center;padding:1px 8px;border-radius:10px;
 color:#fff;font-size:12px;font-weight:600}
.passed{background:#1a7f37}.failed{background:#cf222e}.error{background:#953800}
.skipped{background:#8c959f}.http{background:#0969da}
.num{text-align:right;white-space:nowrap}.muted{color:#57606a}
.over{color:#cf222e;font-weight:600}.within{color:#1a7f37}
pre{margin:4px 0 12px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;
 padding:8px 10px;white-space:pre-wrap;word-break:break-word;
 font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.fixtures{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 12px;background:#fff}
.card img{display:block;max-width:100%;height:auto;margin:6px 0;border-radius:4px}
.card table{font-size:12px}ul.findings{margin:4px 0;padding-left:18px}
ul.findings li{color:#cf222e}ul.findings li.warning{color:#9a6700}
img.plot{max-width:100%;height:auto;border:1px solid #eaeef2;border-radius:4px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(img: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")


def _badge(outcome: str) -> str:
    return f'<span class="badge {_e(outcome)}">{_e(outcome)}</span>'


def _counts_text(counts: dict[str, int]) -> str:
    return " · ".join(f"{counts[o]} {o}" for o in OUTCOMES)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _meta(report: ReportData) -> str:
    rows = [
        ("kind", report.kind),
        ("directory", report.directory),
        ("runner", report.runner),
        ("validated for CVAT", report.cvat_version),
        ("started", report.started_at),
        ("ready after", _seconds(report.ready_s)),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _failures(report: ReportData) -> str:
    bad = [c for c in report.checks if c.outcome in ("failed", "error")]
    if not bad:
        return ""
    parts = [f"<h3>Failures ({len(bad)})</h3>"]
    for c in bad:
        where = f" · fixture {_e(c.fixture)}" if c.fixture else ""
        parts.append(
            f"<h4>{_badge(c.outcome)} {_e(c.check)}{where}</h4>"
            f'<div class="muted">{_e(c.id)}</div><pre>{_e(c.message or "(no message)")}</pre>'
        )
    return "".join(parts)


def _checks(report: ReportData) -> str:
    if not report.checks:
        return '<h3>Checks</h3><p class="muted">No check ran.</p>'
    rows = []
    for c in report.checks:
        first = c.message.strip().splitlines()[0] if c.message.strip() else ""
        if len(first) > 160:
            first = first[:157] + "…"
        rows.append(
            f"<tr><td>{_badge(c.outcome)}</td><td>{_e(c.check)}</td>"
            f"<td>{_e(c.fixture or '')}</td><td class='num'>{c.duration_s:.2f} s</td>"
            f"<td>{_e(first)}</td></tr>"
        )
    head = (
        "<tr><th>outcome</th><th>check</th><th>fixture</th>"
        "<th class='num'>time</th><th>message</th></tr>"
    )
    return f"<h3>Checks</h3><table>{head}{''.join(rows)}</table>"


def _latency(report: ReportData) -> str:
    rows = []
    measured: list[tuple[str, float | None, float | None, str]] = [
        ("ready", report.ready_s, report.budgets.get("ready_s"), "s")
    ]
    measured += [
        (name, report.percentiles_ms().get(name), budget_for(report.budgets, name), "ms")
        for name, _, _ in PERCENTILES
    ]
    for name, value, budget, unit in measured:
        if value is None:
            state = '<span class="muted">not measured</span>'
        elif budget is None:
            state = '<span class="muted">no budget</span>'
        elif value <= budget:
            state = '<span class="within">within budget</span>'
        else:
            state = '<span class="over">over budget</span>'
        shown = (
            "—" if value is None else f"{value:.2f} {unit}" if unit == "s" else f"{value:.1f} ms"
        )
        limit = "—" if budget is None else f"{budget:g} {unit}"
        rows.append(
            f"<tr><td>{_e(name)}</td><td class='num'>{shown}</td>"
            f"<td class='num'>{limit}</td><td>{state}</td></tr>"
        )
    head = "<tr><th>measure</th><th>measured</th><th>budget</th><th></th></tr>"
    plot = latency_histogram(report.latencies_ms, report.budgets)
    return (
        f"<h3>Latency</h3><table class='meta'>{head}{''.join(rows)}</table>"
        f'<p><img class="plot" alt="warm latency histogram" src="{_data_uri(plot)}" '
        f'width="{plot.width}" height="{plot.height}"></p>'
    )


def _shape_rows(kind: str, shapes: Sequence[Shape]) -> list[str]:
    rows = []
    for s in shapes[:SHOWN_SHAPES]:
        try:
            box = ", ".join(f"{v:.0f}" for v in s.bbox())
        except (ValueError, TypeError):
            box = "—"
        conf = "" if s.confidence is None else f"{s.confidence:.2f}"
        rows.append(
            f"<tr><td>{_e(kind)}</td><td>{_e(s.label or '—')}</td><td>{_e(s.type)}</td>"
            f"<td class='num'>{conf}</td><td>[{box}]</td></tr>"
        )
    if len(shapes) > SHOWN_SHAPES:
        rows.append(
            f"<tr><td colspan='5' class='muted'>… {len(shapes) - SHOWN_SHAPES} more</td></tr>"
        )
    return rows


def _drawn(fixture: FixtureResult) -> str:
    try:
        frame = fixture.picture if fixture.picture is not None else Path(fixture.image)
        img = draw_shapes(frame, fixture.returned, fixture.expected)
    except (OSError, ValueError) as exc:
        return f'<p class="over">image {_e(fixture.image)} cannot be shown: {_e(exc)}</p>'
    if max(img.size) > MAX_IMAGE_SIDE:
        img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    return (
        f'<img alt="{_e(fixture.name)}" src="{_data_uri(img)}" '
        f'width="{img.width}" height="{img.height}">'
    )


def _fixture(fixture: FixtureResult) -> str:
    status = (
        '<span class="badge failed">no answer</span>'
        if fixture.status is None
        else f'<span class="badge {"http" if fixture.status == 200 else "failed"}">'
        f"HTTP {fixture.status}</span>"
    )
    size = f" · {fixture.image_size[0]}×{fixture.image_size[1]}" if fixture.image_size else ""
    parts = [
        f'<div class="card"><h4>{_e(fixture.name)} {status}</h4>',
        f'<div class="muted">{_e(Path(fixture.image).name)}{_e(size)} · '
        f"{len(fixture.expected)} expected, {len(fixture.returned)} returned</div>",
        _drawn(fixture),
    ]
    if fixture.sent:
        parts.append(f'<div class="muted">sent: {_e(fixture.sent)}</div>')
    if fixture.findings:
        items = "".join(
            f'<li class="{"warning" if f.startswith("warning") else ""}">{_e(f)}</li>'
            for f in fixture.findings
        )
        parts.append(f'<ul class="findings">{items}</ul>')
    rows = _shape_rows("expected", fixture.expected) + _shape_rows("returned", fixture.returned)
    if rows:
        head = "<tr><th></th><th>label</th><th>type</th><th>conf.</th><th>box</th></tr>"
        parts.append(f"<table>{head}{''.join(rows)}</table>")
    parts.append("</div>")
    return "".join(parts)


def _section(report: ReportData) -> str:
    verdict = report.verdict
    badge = {"passed": "passed", "failed": "failed"}.get(verdict, "skipped")
    fixtures = "".join(_fixture(f) for f in report.fixtures)
    return (
        f'<section class="fn"><h2>{_e(report.function)} '
        f'<span class="badge {badge}">{_e(verdict)}</span></h2>'
        f'<div class="muted">{_e(_counts_text(report.counts()))}</div>{_meta(report)}'
        f"{_failures(report)}{_checks(report)}{_latency(report)}"
        + (f'<h3>Fixtures</h3><div class="fixtures">{fixtures}</div>' if fixtures else "")
        + "</section>"
    )


def render_html(data: ReportData | Sequence[ReportData]) -> str:
    reports = _as_list(data)
    counts = _total(reports)
    verdict = _verdict(counts)
    css_class = {"passed": "passed-bg", "failed": "failed-bg"}.get(verdict, "none-bg")
    names = ", ".join(r.function for r in reports) or "no function"
    started = min((r.started_at for r in reports), default="")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>cvat-fn: {_e(verdict.upper())} — {_e(names)}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<header class="banner {css_class}"><h1>{_e(verdict.upper())}</h1>'
        f"<p>{_e(_counts_text(counts))} · {len(reports)} function(s): {_e(names)}"
        + (f" · started {_e(started)}" if started else "")
        + "</p></header><main>"
        + "".join(_section(r) for r in reports)
        + "</main></body></html>\n"
    )


def write_html(data: ReportData | Sequence[ReportData], path: str | Path) -> Path:
    """One HTML file with everything embedded (images as data URIs, CSS inline, no script)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(data), encoding="utf-8")
    return target
