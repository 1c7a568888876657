// Ask a provider's own Node SDK to verify (or sign) a delivery; print its answer as one JSON line.
// Usage: node sdk.cjs < request.json, the request being {"call": "<provider>.<what>", ...arguments}, or
// {"calls": [request, ...]} for many in one process (the answers then a list, in order).
// The answer is {"ok": true, "value": ...} or {"ok": false, "error": "..."} (the SDK refused or threw).
// Versions are pinned by package-lock.json beside this file (make node-deps).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

// Some SDKs narrate on stdout (Rivet logs every Lambda event): stdout carries only the answer.
console.log = console.info = console.debug = console.error;

const calls = {
  // @mux/mux-node: `webhooks.verifySignature(body, headers, secret)` throws unless Mux-Signature matches
  // (and its t= is at most 300 s old).
  "mux.verify": async ({ body, headers, secret }) => {
    const Mux = require("@mux/mux-node");
    const mux = new Mux({ tokenId: "unused", tokenSecret: "unused", webhookSecret: secret });
    await mux.webhooks.verifySignature(body, headers, secret);
    return true;
  },
  // @zoom/rivet: the AWS Lambda receiver verifies x-zm-signature and answers endpoint.url_validation
  // itself; its answer is what Zoom would get.
  "zoom.receive": async ({ body, headers, secret }) => {
    const { AwsLambdaReceiver } = require("@zoom/rivet/meetings");
    const receiver = new AwsLambdaReceiver({ webhooksSecretToken: secret });
    const emitted = [];
    receiver.init({ eventEmitter: { emit: async (name) => emitted.push(name) } });
    const response = await receiver.start()({ body, headers, isBase64Encoded: false }, {});
    return { status: response.statusCode, body: JSON.parse(response.body), emitted };
  },
  // twitter-autohook (published by Twitter's developer relations): the CRC answer and the signature check.
  "twitter.crc": async ({ token, secret }) => require("twitter-autohook").validateWebhook(token, { consumer_secret: secret }),
  "twitter.verify": async ({ body, headers, secret }) =>
    require("twitter-autohook").validateSignature(headers, { consumer_secret: secret }, body),
  // @notionhq/client: `verifyWebhookSignature` and `signWebhookPayload` (X-Notion-Signature).
  "notion.verify": async ({ body, signature, secret }) =>
    require("@notionhq/client").verifyWebhookSignature({ body, signature, verificationToken: secret }),
  "notion.sign": async ({ body, secret }) =>
    require("@notionhq/client").signWebhookPayload({ body, verificationToken: secret }),
  // @contentful/node-apps-toolkit: `verifyRequest` and `signRequest` over the canonical request.
  "contentful.verify": async ({ secret, method, path, headers, body, ttl_s }) =>
    require("@contentful/node-apps-toolkit").verifyRequest(secret, { method, path, headers, body }, ttl_s),
  // whatsapp (Meta's WhatsApp Node SDK, github.com/WhatsApp/WhatsApp-Nodejs-SDK): `generateXHub256Sig`, the
  // hex HMAC-SHA256 its webhook server compares with X-Hub-Signature-256 (after "sha256="), the one signature
  // Meta's Graph webhooks send (WhatsApp, Messenger, Instagram, Facebook).
  // (build/utils.js is not in the package's exports: it is loaded by its path.)
  "meta.sign": async ({ body, secret }) => {
    const root = path.dirname(require.resolve("whatsapp/package.json"));
    return require(path.join(root, "build", "utils.js")).generateXHub256Sig(body, secret);
  },
  // @shopify/shopify-api: `webhooks.validate` (X-Shopify-Hmac-Sha256 and the headers every delivery has),
  // through its Node adapter, with the app's secret.
  "shopify.validate": async ({ body, headers, secret }) => {
    require("@shopify/shopify-api/adapters/node");
    const { shopifyApi, ApiVersion, LogSeverity } = require("@shopify/shopify-api");
    const shopify = shopifyApi({
      apiSecretKey: secret,
      apiKey: "unused",
      scopes: [],
      hostName: "hooks.example.com",
      apiVersion: ApiVersion.October25,
      isEmbeddedApp: false,
      logger: { level: LogSeverity.Error, log: async () => {} },
    });
    const rawRequest = { method: "POST", url: "/webhooks/shopify", headers };
    return (await shopify.webhooks.validate({ rawBody: body, rawRequest, rawResponse: {} })).valid;
  },
  // webflow-api: `webhooks.verifySignature` (x-webflow-signature over `<x-webflow-timestamp>:<body>`).
  "webflow.verify": async ({ body, headers, secret }) => {
    const { WebflowClient } = require("webflow-api");
    return new WebflowClient({ accessToken: "unused" }).webhooks.verifySignature({ headers, body, secret });
  },
  // @vonage/jwt: `verifySignature`, the HS256 check of a signed webhook's JWT with the signature secret.
  "vonage.verify": async ({ token, secret }) => require("@vonage/jwt").verifySignature(token, secret),
  "contentful.sign": async ({ secret, method, path, headers, body, timestamp_ms }) =>
    require("@contentful/node-apps-toolkit").signRequest(secret, { method, path, headers, body }, timestamp_ms),
};

async function main() {
  const request = JSON.parse(fs.readFileSync(0, "utf8"));
  if (Array.isArray(request.calls)) {
    const answers = [];
    for (const one of request.calls) answers.push(await answer(one));
    return answers;
  }
  return answer(request);
}

async function answer(request) {
  const call = calls[request.call];
  if (call === undefined) throw new Error(`unknown call ${request.call}`);
  try {
    return { ok: true, value: await call(request) };
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err) };
  }
}

main().then(
  (answer) => process.stdout.write(JSON.stringify(answer) + "\n"),
  (err) => {
    process.stderr.write(`sdk: ${err}\n`);
    process.exit(2);
  },
);
