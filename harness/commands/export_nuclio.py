"""cvat-fn export-nuclio: a cvat-sdk function as a Nuclio function for community CVAT.

The module's directory ships with it, as nuctl deploy --path takes a whole directory: a
module that loads its model from files beside it still runs once exported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.common import fail
from harness.sdk import add_parameter_option

if TYPE_CHECKING:
    from harness.commands.common import SubParsers

EPILOG = """\
The directory gets function.yaml (the kind, the labels from the SDK spec, cvat-sdk as a build
dependency, packages from a requirements.txt beside the module), main.py (CVAT's Nuclio
requests in, the SDK function called, CVAT's answers out), the module itself, and
cvat-fn.yaml (when one lies beside the module) with its paths rebased. The other files of the
module's directory are copied in too (links followed; hidden files, __pycache__ and OUTDIR
left out), as `nuctl deploy --path` takes a whole directory: a module may load its model from
files beside it. Keep the module in a directory of its own. Then:

  pytest --function OUTDIR        the same suite, on the same fixtures
  nuctl deploy --path OUTDIR ...  as any CVAT function

examples:
  cvat-fn export-nuclio sample_functions/sdk_face_detector/haar_faces.py build/haar
  cvat-fn export-nuclio my_model.py out -p model_size=str:small -p use_gpu=bool:false
"""


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "export-nuclio",
        help="write a Nuclio function directory that runs a cvat-sdk function",
        description=(__doc__ or "").strip(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "function", metavar="FUNC", help="path/to/func.py (its directory's other files ship too)"
    )
    p.add_argument("outdir", metavar="OUTDIR", help="directory to write (made if missing)")
    add_parameter_option(p.add_argument, "-p")
    p.add_argument(
        "--force", action="store_true", help="overwrite an OUTDIR that already has function.yaml"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.sdk import require_sdk

    try:
        require_sdk()
    except ImportError as exc:
        fail("export-nuclio", str(exc))
        return 2
    from harness.sdk.export import FunctionRef, SdkError, parse_params, write_function_dir

    outdir = Path(args.outdir)
    try:
        if (outdir / "function.yaml").exists() and not args.force:
            raise SdkError(f"{outdir}/function.yaml exists (use --force to overwrite)")
        ref = FunctionRef(args.function, parse_params(args.function_parameter))
        written = write_function_dir(
            ref, outdir, harness=False, say=lambda line: fail("export-nuclio", line)
        )
    except SdkError as exc:
        first, _, rest = str(exc).partition("\n")
        fail("export-nuclio", first)
        if rest:
            print(rest, file=sys.stderr)
        return 2
    files = ", ".join(sorted(p.name for p in written.iterdir()))
    print(f"wrote {written}: {files}")
    print(f"test it: pytest --function {written}")
    return 0
