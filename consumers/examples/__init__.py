"""Example handlers: how an AI agent plugs into the consumers (`CONSUMER_HANDLERS=consumers.examples.agent`)."""
