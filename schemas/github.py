"""GitHub webhook payloads: the fields every event type shares.

GitHub sends the event type in `X-GitHub-Event`, not in the body, and adds fields without notice, so
the models keep what they don't declare (`extra="allow"`). Reference: GitHub's "Webhook events and
payloads" documentation and the octokit/webhooks payload examples in `tests/samples/github`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GitHubAccount(BaseModel):
    """A user, bot or organization as it appears in `sender` and `owner`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    login: str
    id: int
    type: str | None = None


class GitHubRepository(BaseModel):
    """The repository an event belongs to."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: int
    name: str
    full_name: str
    private: bool | None = None
    owner: GitHubAccount | None = None


class GitHubInstallationRef(BaseModel):
    """The GitHub App installation an event was delivered for."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: int


class GitHubEvent(BaseModel):
    """Any GitHub webhook body: the common fields, everything else kept as is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    action: str | None = None
    sender: GitHubAccount | None = None
    repository: GitHubRepository | None = None
    organization: GitHubAccount | None = None
    installation: GitHubInstallationRef | None = None
