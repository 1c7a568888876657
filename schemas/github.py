"""GitHub webhook payloads: the fields every event type shares.

GitHub sends the event type in `X-GitHub-Event`, not in the body, and adds fields without notice, so
the models keep what they don't declare (`extra="allow"`). Reference: GitHub's "Webhook events and
payloads" documentation and the octokit/webhooks payload examples in `tests/samples/github`.
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class GitHubAccount(ProviderModel):
    """A user, bot or organization as it appears in `sender` and `owner`."""

    login: str
    id: int
    type: str | None = None


class GitHubRepository(ProviderModel):
    """The repository an event belongs to."""

    id: int
    name: str
    full_name: str
    private: bool | None = None
    owner: GitHubAccount | None = None


class GitHubInstallationRef(ProviderModel):
    """The GitHub App installation an event was delivered for."""

    id: int


class GitHubEvent(ProviderModel):
    """Any GitHub webhook body: the common fields, everything else kept as is."""

    action: str | None = None
    sender: GitHubAccount | None = None
    repository: GitHubRepository | None = None
    organization: GitHubAccount | None = None
    installation: GitHubInstallationRef | None = None
