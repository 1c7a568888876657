"""Small building blocks both processes use: a token bucket (`tokenbucket.py`) and the Standard Webhooks
signature (`standardwebhooks.py`), which the receiver verifies and checks senders' secrets with and the
consumers' forwarder signs with.

Its own package because `receiver` and `consumers` never import each other. Pure computation: no I/O, no
import of either process's package (an import-linter contract in `make lint` holds this).
"""
