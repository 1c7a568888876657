"""The run-time source registry: sources added, rotated, disabled and deleted while the receivers run.

    webhooks sources add|list|rotate|disable|enable|delete|reencrypt     commands.py
        └── write one record per change ──▶ Kafka topic _webhooks-sources (compacted)     log.py
                                                   │  key: source id; value: its definition (definition.py),
                                                   │  secrets sealed with the master keys (keyring.py)
                                                   ▼
    every receiver process: read to the end before ready, then follow ──▶ the route   follower.py

No server of its own: the registry is a Kafka topic the receivers already reach.
"""
