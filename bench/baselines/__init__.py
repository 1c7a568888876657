"""Baselines the receiver is measured against, in the same run, on the same requests (docs/performance.md).

These are not the product: `ceiling` is the most a Python ASGI server can do with the same verification
and parsing and nothing durable; `seed` is the design this project replaces.
"""
