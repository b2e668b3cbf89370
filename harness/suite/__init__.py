"""The suite: the pytest plugin, its checks, cvat-fn.yaml and shape similarity."""
