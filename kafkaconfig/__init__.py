"""One Kafka configuration for both processes: what they read, how they connect, how their topics are made.

    settings.py  KafkaSettings: the KAFKA_* variables and WEBHOOK_MAX_BODY_BYTES, validated once; the
                 receiver's and the consumers' settings extend it, so a value is taken or refused alike
    clients.py   the same connection as aiokafka options and as librdkafka configuration
    topics.py    the configuration every webhooks topic gets (partitions, replicas, max.message.bytes,
                 min.insync.replicas, dead-letter retention) and `ensure_topics`, which both processes call

Its own package because both processes need it and neither may import the other, while `schemas` stays free
of I/O clients (creating topics talks to Kafka). Like `supervision`, it serves both and imports neither.
"""
