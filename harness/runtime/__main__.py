"""``python -m harness.runtime --config runtime.json``: start the processor."""

from .processor import main

main()
