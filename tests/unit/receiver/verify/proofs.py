"""The declarative providers whose spec says "SDK:", and the provider's package whose test proves each.

test_specs.py holds every spec's `proof` to these; the proofs themselves run where each table says.
"""

from __future__ import annotations

# Proven in test_provider_sdks.py, with these packages from PyPI.
PYTHON_SDK_PROVEN = {
    "razorpay": "razorpay",
    "workos": "workos",
    "elevenlabs": "elevenlabs",
    "retell": "retell-sdk",
    "box": "boxsdk",
    "coinbase": "coinbase-commerce",
    "square": "square",
    "paddle": "paddle-python-sdk",
}
# Proven in test_provider_node_sdks.py, with these npm packages (tests/sdks/package.json).
NODE_SDK_PROVEN = {
    "mux": "@mux/mux-node",
    "zoom": "@zoom/rivet",
    "twitter": "twitter-autohook",
    "notion": "@notionhq/client",
    "shopify": "@shopify/shopify-api",
    "webflow": "webflow-api",
    "vonage": "@vonage/jwt",
    # Meta's WhatsApp Node SDK; Messenger, Instagram and Facebook are Graph webhooks signed the same way.
    "whatsapp": "whatsapp",
    "messenger": "whatsapp",
    "instagram": "whatsapp",
    "facebook": "whatsapp",
}
# Proven in test_provider_go_sdks.py, with these Go modules (tests/sdks/go/go.mod).
GO_SDK_PROVEN = {
    "gitea": "code.gitea.io/sdk/gitea",
}
