// What docs/asyncapi.json describes, read with the official AsyncAPI parser (npm install @asyncapi/parser):
// each channel's Kafka topic, its message and the record headers. Usage: node asyncapi_channels.cjs FILE [PROVIDER]
"use strict";
const fs = require("node:fs");
const { Parser } = require("@asyncapi/parser");

async function main(file, provider) {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(file, "utf8"));
  if (document === undefined) throw new Error(diagnostics.map((d) => d.message).join("; "));
  for (const channel of document.channels().all()) {
    if (provider && !channel.address().startsWith(`webhooks.${provider}.`) && channel.address() !== `webhooks.${provider}`) continue;
    for (const message of channel.messages().all()) {
      const headers = Object.keys(message.headers().properties()).join(", ");
      const key = message.bindings().get("kafka").value().key.description;
      console.log(`${channel.address()}: ${message.name()} (key: ${key}) headers: ${headers}`);
    }
  }
  for (const operation of document.operations().all()) {
    if (!provider || operation.id().startsWith(`${provider}.`)) console.log(`${operation.action()} ${operation.id()}`);
  }
}

main(process.argv[2], process.argv[3]).catch((err) => {
  console.error(`asyncapi_channels: ${err.message}`);
  process.exit(1);
});
