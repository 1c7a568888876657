"""The stateless receiver: verify each webhook as its provider signs it, publish it to Kafka, answer."""
