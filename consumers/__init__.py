"""Consumer-group workers: read the webhook topics, drop duplicates, run the registered handlers.

What a handler module needs is exported here: `Registry`, `Event`, `Context`, and the errors a handler may raise to
steer its retry (`RetryLater`, `PermanentError`). Run a worker with `python -m consumers`.
"""

from consumers.context import Context
from consumers.errors import PermanentError, RetryLater
from consumers.registry import Event, Registry

__all__ = ["Context", "Event", "PermanentError", "Registry", "RetryLater"]
