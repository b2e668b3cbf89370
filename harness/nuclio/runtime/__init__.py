"""A Nuclio-compatible Python runtime: an HTTP processor and one wrapper process per worker.

Only the standard library, nuclio_sdk and msgpack are used here, and the code stays valid on
Python 3.9: this package is copied into function images and runs under the function's Python.
"""
