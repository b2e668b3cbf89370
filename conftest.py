"""Repository-wide pytest setup: makes ``tests`` importable from the project root and fixes
Hypothesis to a reproducible profile for cvat-fn's own tests."""

from hypothesis import settings

settings.register_profile("cvat-fn", deadline=None, derandomize=True, database=None)
settings.load_profile("cvat-fn")
