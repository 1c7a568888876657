"""`python -m receiver`: serve the receiver with uvicorn on RECEIVER_HOST:RECEIVER_PORT.

`python -m receiver send <source>` signs a sample event with the source's secret and posts it (`send.py`).
"""

from __future__ import annotations

import gc
import logging
import sys

import uvicorn
from prometheus_client import disable_created_metrics

from receiver import send
from receiver.app import create_app
from receiver.errors import ConfigError
from receiver.settings import load_settings
from schemas.logline import configure_logging

logger = logging.getLogger("receiver")

_GC_THRESHOLDS = (50_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["send"]:
        return send.main(args[1:])
    if args:
        print("usage: python -m receiver [send <source> ...]  (python -m receiver send --help)", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"receiver: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    # aiokafka logs every (re)assignment and reconnect at INFO; ours say what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    # The `_created` series double every counter and no dashboard of ours reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"receiver: configuration error: {exc}", file=sys.stderr)
        return 2
    enabled = sorted(app.webhooks.source_names)
    if not enabled:
        logger.warning("no source is enabled: set WEBHOOK_SECRET_<SOURCE> (e.g. WEBHOOK_SECRET_GITHUB)")
    logger.info("sources enabled: %s", ", ".join(enabled) or "none")
    # Every request parses a JSON body into a tree of containers that refcounting frees; with the default
    # gen-0 threshold (700) the cycle collector ran every few requests. Start-up state is frozen out of its
    # way. Measured: throughput within noise, p99 a little lower; the consumers gain more (see runtime.py).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        # One line per request costs more than the request; the metrics count them instead.
        access_log=False,
        # Nothing here reads the client address; X-Forwarded-* parsing would only cost time.
        proxy_headers=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
