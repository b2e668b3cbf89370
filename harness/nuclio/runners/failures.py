"""Why a function did not start, told once and with the next step.

A function whose ``init_context`` raises fails the same way in every worker, so its output
holds the same traceback numWorkers times; the copies after the first are folded into one
line naming the worker. A ``ModuleNotFoundError`` gets a hint saying which Python environment
the runner used, since that differs between runners.
"""

from __future__ import annotations

import re
import sys

from harness.output.logformat import format_line

# The first line of a worker's failure, as harness/nuclio/runtime/wrapper.py's main() writes it.
WORKER_FAILED = re.compile(r"^worker (\S+): failed to load or initialise the function \((.*)\)$")
MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def fold_repeated_failures(output: str) -> str:
    """Keep the first copy of each distinct worker failure; later copies become one line."""
    lines = output.splitlines()
    kept: list[str] = []
    seen: set[tuple[str, ...]] = set()
    i = 0
    while i < len(lines):
        start = WORKER_FAILED.match(lines[i])
        if start is None:
            kept.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not _ends_block(lines[end]):
            end += 1
        key = (start.group(2), *lines[i + 1 : end])
        if key in seen:
            kept.append(f"worker {start.group(1)}: failed the same way ({start.group(2)})")
        else:
            seen.add(key)
            kept.extend(lines[i:end])
        i = end
    return "\n".join(kept)


def _ends_block(line: str) -> bool:
    """A traceback block ends where the next record, worker failure or processor line starts."""
    return line.startswith("{") or WORKER_FAILED.match(line) is not None


def hints(output: str, runtime: str) -> list[str]:
    """What to do next, for failures a newcomer meets first."""
    found = []
    for module in dict.fromkeys(m.group(1) for m in MISSING_MODULE.finditer(output)):
        top = module.split(".")[0]
        if runtime == "process":
            found.append(
                f"hint: No module named {module!r}: the process runner runs the function in"
                f" the current Python environment ({sys.executable}), not in the function's"
                f" own. Install the package that provides {top!r} there, or use --runtime"
                " docker, which builds the function's image from function.yaml."
            )
        else:
            found.append(
                f"hint: No module named {module!r} in the function's image: install the"
                f" package that provides {top!r} in function.yaml's spec.build.directives"
                " (preCopy: RUN pip install ...), or give a --base-image that has it."
            )
    return found


def explain(output: str, runtime: str) -> str:
    """The function's output for a StartError: repeats folded, hints at the end."""
    folded = "\n".join(format_line(line) for line in fold_repeated_failures(output).splitlines())
    return "\n".join([folded, *hints(output, runtime)])
