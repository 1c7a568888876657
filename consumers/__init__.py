"""Consumer-group workers: read the webhook topics, drop duplicates, run the registered handlers.

What a handler module needs is exported here: `Registry` (and `Rate`), `Event`, `Context`, and the errors a handler
may raise to steer its retry (`RetryLater`, `PermanentError`). Run a worker with `python -m consumers`.

The path of one record, from fetch to commit, module by module:

1. `worker`: the loop. Fetch, hand the records on (a batch per partition, or a lane each), pause busy
   partitions, commit.
2. `kafka`: the aiokafka adapter. `Record` and its header readers, fetch, pause, commit, send.
3. `decoding`: a record becomes `Decoded` (the event and its claim key) or `Invalid` (and why).
4. `lanes`: records of one Kafka key run in order, records of other keys concurrently. A record whose key is
   alone in the fetch and not busy goes in its partition's batch instead, which holds the key's lane meanwhile.
5. `delivery`: a record, or a batch of them, from claim to outcome. Claim (a batch in one call), run the
   handlers that have not succeeded (a batch by at most `CONSUMER_CONCURRENCY` tasks, not one per record), mark
   done, or release and retry.
6. `claims`: `ClaimBatcher`, this worker's claims batched per loop tick and renewed while held, over a
   `ClaimStore` (`idempotency`: `IdempotencyStore` and its Lua `scripts`, kept for the `windows` of each provider).
7. `runner`: runs the handlers `registry` matches side by side, each within its `limits` and timeout and with a
   `Context` (`handlers`), inside the handler modules' lifespans.
8. `retries`: retry or dead letter for a failed event, and the record that carries it there.
9. `partitions`: per partition, the first offset not dealt with yet, which is what gets committed.

Beside the path: `__main__` (run, replay, dry run), `settings`, `errors` (the error tree, and waiting out an
outage), `connection` (the Redis client's connections, packing a command in one join), `metrics`, `tracing`,
`replay` (dead letters through the handlers again), `dryrun` (what the group would run, changing nothing), and
handler modules of our own: `forward` (posts each event on, signed) and `examples`.
`Worker.from_settings` puts a worker together.
"""

from consumers.errors import PermanentError, RetryLater
from consumers.handlers import Context, Event
from consumers.registry import Rate, Registry

__all__ = ["Context", "Event", "PermanentError", "Rate", "Registry", "RetryLater"]
