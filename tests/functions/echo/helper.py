"""A sibling module: main.py imports it, as model_handler.py is imported in CVAT's functions."""

GREETING = "from helper"
