"""cvat-fn dashboard: Nuclio's dashboard API in front of functions cvat-fn runs locally.

CVAT needs only a Nuclio dashboard (``CVAT_NUCLIO_HOST``/``CVAT_NUCLIO_PORT``): it lists
functions with ``GET /api/functions`` and calls them with ``POST /api/function_invocations``.
Answering there with functions started by cvat-fn's own runners puts a user's CVAT in front of
their editor, debugger and terminal.

- :mod:`.registry`: the served functions (spec, lint verdict, state, restart);
- :mod:`.api`: the HTTP servers (the dashboard's API, and each function's own port);
- :mod:`.verdicts`: every request judged and shown as one block (and as JSON lines);
- :mod:`.recording`: requests kept on disk, and turned into cvat-fn.yaml fixtures;
- :mod:`.reload`: restart a function when its files change (watchfiles).
"""
