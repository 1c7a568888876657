"""Read a webhook topic with any Kafka client: the value is the envelope, plain JSON (here aiokafka)."""

import asyncio
import json
import os

from aiokafka import AIOKafkaConsumer

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
TOPIC = os.environ.get("TOPIC", "webhooks.stripe")
GROUP = os.environ.get("GROUP", "billing-audit")
MAX_RECORDS = int(os.environ.get("MAX_RECORDS", "0"))  # 0: read forever


async def main() -> None:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=BOOTSTRAP, group_id=GROUP, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        read = 0
        async for record in consumer:
            headers = {name: value.decode() for name, value in record.headers}
            envelope = json.loads(record.value)
            if envelope["version"] != 1:
                raise SystemExit(f"envelope version {envelope['version']} is newer than this reader")
            # Your work here, idempotent on the event id: a provider's retry is a second record with the same key.
            print(headers["webhook-id"], headers["webhook-type"], envelope["received_at"], envelope["payload"]["id"])
            await consumer.commit()
            read += 1
            if read == MAX_RECORDS:
                break
    finally:
        await consumer.stop()


asyncio.run(main())
