"""Read a webhook topic as CloudEvents, with the CloudEvents Python SDK's Kafka binding (pip install cloudevents)."""

import os

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, from_structured
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
TOPIC = os.environ.get("TOPIC", "webhooks.stripe")
GROUP = os.environ.get("GROUP", "billing-events")
MAX_RECORDS = int(os.environ.get("MAX_RECORDS", "0"))  # 0: read forever

consumer = Consumer(
    {"bootstrap.servers": BOOTSTRAP, "group.id": GROUP, "auto.offset.reset": "earliest", "enable.auto.commit": False}
)
consumer.subscribe([TOPIC])
try:
    read = 0
    while read != MAX_RECORDS or MAX_RECORDS == 0:
        record = consumer.poll(1.0)
        if record is None or record.error():
            continue
        message = KafkaMessage(headers=dict(record.headers() or []), key=record.key(), value=record.value())
        # Binary mode by default; a source set to cloudevents = "structured" writes the whole event as the value.
        structured = message.headers.get("content-type") == b"application/cloudevents+json"
        event = (from_structured if structured else from_binary)(message, JSONFormat())
        envelope = event.get_data()  # our envelope: the provider's body is envelope["payload"]
        print(event.get_id(), event.get_type(), event.get_source(), event.get_time().isoformat(), event.get_subject())
        consumer.commit(record)
        read += 1
finally:
    consumer.close()
