"""WooCommerce webhooks: the resource the topic names (an order, product, customer or coupon), as the REST
API returns it; the topic itself is in `X-WC-Webhook-Topic`.

Reference: WooCommerce REST API docs, "Webhooks" and the resource pages.
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class WooCommerceResource(ProviderModel):
    """A WooCommerce resource delivered by a webhook."""

    id: int | str | None = None
