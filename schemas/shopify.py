"""Shopify payloads: the resource itself (an order, a product, ...); the topic is in `X-Shopify-Topic`.

Reference: Shopify docs, "Webhooks" (payloads are the REST resource of the topic).
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class ShopifyResource(ProviderModel):
    """Any Shopify webhook body: the resource, with the ids most topics carry."""

    id: int | str | None = None
    admin_graphql_api_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
