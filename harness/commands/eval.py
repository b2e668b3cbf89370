"""cvat-fn eval: run a detector over a dataset exported from CVAT and report COCO metrics.

Exit code 0 when every minimum holds, nothing dropped against the baseline and no image
failed; 1 when the model fails (or does not start); 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import UsageError, fail
from harness.cvat.client import DEFAULT_TIMEOUT_S
from harness.nuclio.runners import RUNTIMES, RunnerUnavailable, StartError
from harness.nuclio.runners.options import add_reach_options

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

EPILOG = """\
metrics (eval.json's "metrics"; per label as per_label.NAME.KEY):
  map ap50 ap75 precision recall    e.g. --minimum map=0.3 --minimum per_label.face.ap50=0.8

examples:
  cvat-fn eval ./my_model --dataset task_export.zip --report-dir out
  cvat-fn eval ./my_model --dataset export/ --baseline last/eval.json --max-drop ap50=0.01
  cvat-fn eval ./my_model --dataset export/ --runtime url --function-url http://10.0.0.5:8080
  cvat-fn eval ./my_model --dataset export/ --runtime url --nuclio-dashboard http://nuclio:8070 \\
      --function-name my-model       # through Nuclio's dashboard, as CVAT calls it

exit status: 0 when everything holds; 1 when a minimum is missed, a metric dropped more than
allowed, an image failed or the function did not start; 2 on bad input.
"""


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "eval",
        help="run a detector over a CVAT export (CVAT for images 1.1, COCO 1.0); COCO metrics",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("directory", nargs="?", default=".", metavar="DIR", help="function directory")
    p.add_argument(
        "--dataset",
        required=True,
        type=Path,
        metavar="PATH",
        help="a CVAT export with images, folder or zip: CVAT for images 1.1 or COCO 1.0",
    )
    p.add_argument("--runtime", choices=RUNTIMES, default="process")
    p.add_argument("--function-url", metavar="URL", help="with --runtime url")
    add_reach_options(p.add_argument)
    p.add_argument("--base-image", metavar="IMAGE", help="with --runtime docker")
    p.add_argument(
        "--threshold", type=float, metavar="T", help="sent with every image (default: none"
        " sent, the function's own default applies, as in CVAT)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency", type=int, metavar="N",
        help="requests handled at once (default: numWorkers); as many more wait at the function"
        " for a free worker",
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        default=Path("cvat-fn-eval"),
        metavar="R",
        help="where eval.json, eval.html, answers.jsonl and function.log go"
        " (default: ./cvat-fn-eval)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the answers in R/answers.jsonl for the same image and function version",
    )
    p.add_argument(
        "--minimum", action="append", default=[], metavar="NAME=VALUE", help="e.g. map=0.3"
    )
    p.add_argument("--baseline", type=Path, metavar="OLD/eval.json", help="an earlier eval.json")
    p.add_argument(
        "--max-drop",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="how much a metric may drop below the baseline (default: 0.005 for each)",
    )
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.eval import DatasetError, GateInputError
    from harness.eval.gate import parse_pairs
    from harness.eval.session import EvalOptions, run_eval
    from harness.nuclio.spec import SpecError

    try:
        options = EvalOptions(
            function_dir=Path(args.directory),
            dataset=args.dataset,
            report_dir=args.report_dir,
            runtime=args.runtime,
            url=args.function_url,
            base_image=args.base_image,
            dashboard=args.nuclio_dashboard,
            function_name=args.function_name,
            namespace=args.namespace,
            threshold=args.threshold,
            concurrency=args.concurrency,
            resume=args.resume,
            minimums=parse_pairs(args.minimum, "--minimum"),
            baseline=args.baseline,
            max_drop=parse_pairs(args.max_drop, "--max-drop"),
            timeout=args.timeout,
            show_progress=not args.no_progress,
        )
        result = run_eval(options)
    except (UsageError, DatasetError, GateInputError, SpecError, RunnerUnavailable) as exc:
        fail("eval", str(exc))
        return 2
    except StartError as exc:
        fail("eval", f"the function did not start: {exc}")
        return 1
    doc = result.document
    print(summary(doc))
    for path in result.written:
        print(f"written: {path}")
    for reason in result.reasons:
        fail("eval", f"FAILED: {reason}")
    if result.passed:
        print("cvat-fn eval: PASSED", file=sys.stderr)
    return 0 if result.passed else 1


def summary(doc: dict) -> str:
    def num(v: object) -> str:
        return "—" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    m = doc["metrics"]
    lines = [
        f"{doc['images']} image(s), {doc['failed_images']} failed, {doc['reused']} reused;"
        f" {num(doc['images_per_s'])} images/s",
        f"{'label':<16}{'ap':>8}{'ap50':>8}{'ap75':>8}{'prec':>8}{'recall':>8}{'support':>9}",
        f"{'all':<16}{num(m['map']):>8}{num(m['ap50']):>8}{num(m['ap75']):>8}"
        f"{num(m['precision']):>8}{num(m['recall']):>8}{num(m.get('ground_truth')):>9}",
    ]
    for label, v in m.get("per_label", {}).items():
        lines.append(
            f"{label:<16}{num(v['ap']):>8}{num(v['ap50']):>8}{num(v['ap75']):>8}"
            f"{num(v['precision']):>8}{num(v['recall']):>8}{num(v['support']):>9}"
        )
    only = doc["labels"]["dataset_only"]
    if only:
        lines.append(
            "only in the dataset (not scored): " + ", ".join(f"{k} ({n})" for k, n in only.items())
        )
    if doc["labels"]["function_only"]:
        lines.append(
            "only in the function (not scored): " + ", ".join(doc["labels"]["function_only"])
        )
    return "\n".join(lines)
