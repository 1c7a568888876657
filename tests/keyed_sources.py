"""The four keyed sources (SNS, PayPal, Plaid, Pub/Sub) fetching their keys from a local `KeyServer` only,
and the keys that server serves them: what the keyed-provider tests and the conformance matrix share.
"""

from __future__ import annotations

import orjson

from receiver.sources import Source
from receiver.verify import PayPalScheme, PlaidScheme, PubSubScheme, Scheme, SnsScheme
from tests import keyed_signing as keyed
from tests.keyserver import KeyServer, signing_certificate

SECRETS = {
    "sns": (keyed.SNS_TOPIC.encode(),),
    "paypal": (keyed.WEBHOOK_ID.encode(),),
    "plaid": (b"client-1:plaid-secret-1",),
    "pubsub": (f"{keyed.AUDIENCE}|push@agents-prod.iam.gserviceaccount.com".encode(),),
}


def schemes(server: KeyServer, **fetcher_options: float) -> dict[str, Scheme]:
    fetcher = server.fetcher(**fetcher_options)  # type: ignore[arg-type]
    return {
        "sns": SnsScheme(fetcher=fetcher),
        "paypal": PayPalScheme(fetcher=fetcher),
        "plaid": PlaidScheme(fetcher=fetcher, environments={"production": server.url("")}),
        "pubsub": PubSubScheme(fetcher=fetcher, certs_url=server.url(keyed.GOOGLE_CERTS_PATH)),
    }


def keyed_sources(server: KeyServer, **fetcher_options: float) -> dict[str, Source]:
    return {
        name: Source(name=name, scheme=scheme, secrets=SECRETS[name], topic=f"webhooks.{name}")
        for name, scheme in schemes(server, **fetcher_options).items()
    }


def serve_keys(server: KeyServer) -> None:
    """Forget every route and serve each provider's one key (Google's as `g1`, Plaid's as `k1`)."""
    server.routes.clear()
    server.serve(keyed.SNS_CERT_PATH, signing_certificate(keyed.AWS_KEY, "sns.amazonaws.com"))
    server.serve(keyed.PAYPAL_CERT_PATH, signing_certificate(keyed.PAYPAL_KEY, "messageverificationcerts.paypal.com"))
    server.serve(
        keyed.GOOGLE_CERTS_PATH,
        keyed.google_certs({"g1": signing_certificate(keyed.GOOGLE_KEY, "accounts.google.com")}),
    )
    server.serve(
        keyed.PLAID_KEY_PATH, orjson.dumps({"key": keyed.plaid_jwk(keyed.PLAID_KEY, "k1"), "request_id": "r1"})
    )
