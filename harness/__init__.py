"""cvat-fn: run, debug and test CVAT serverless functions locally.

Kept import-free: ``harness.nuclio.runtime`` is copied into function images next to this file
and must load under the function's own (possibly older) Python.
"""

__version__ = "0.1.0"
