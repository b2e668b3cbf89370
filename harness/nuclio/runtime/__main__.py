"""``python -m harness.nuclio.runtime --config runtime.json``: start the processor."""

from .processor import main

main()
