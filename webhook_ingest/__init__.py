"""The `webhooks` command: one entry point over the receiver, the consumers and the wire contract."""
