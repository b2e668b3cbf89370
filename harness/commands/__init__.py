"""cvat-fn's subcommands: one module each, every one with ``register(sub)``.

``harness.cli`` imports them in this order, which is the order ``cvat-fn --help`` lists them
in. A module keeps its heavy imports inside its functions, so ``cvat-fn --help`` stays fast.
"""

COMMANDS = (
    "lint",
    "invoke",
    "serve",
    "gate",  # cvat-fn test
    "build",
    "new",  # the model repository and its release: new, pin, verdict
    "pin",
    "verdict",
    "eval",  # dataset evaluation
    "dashboard",  # a real CVAT calls functions run here: dashboard, fixtures
    "fixtures",
    "export_nuclio",  # cvat-sdk functions
)
"""Module names under harness.commands, in --help order."""
