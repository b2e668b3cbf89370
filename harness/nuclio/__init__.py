"""Nuclio's side: function.yaml, the runtime and its runners, the dashboard, and the scaffold
of cvat-fn new."""
