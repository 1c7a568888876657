"""Signature schemes, one module per family, all behind `base.Scheme`."""

from receiver.verify.base import Headers, Scheme, Verified
from receiver.verify.github import GitHubScheme
from receiver.verify.hmac import HmacScheme
from receiver.verify.stripe import StripeScheme

__all__ = ["GitHubScheme", "Headers", "HmacScheme", "Scheme", "StripeScheme", "Verified"]
