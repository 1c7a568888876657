"""`python -m webhook_ingest`: the `webhooks` command."""

import sys

from webhook_ingest.cli import main

sys.exit(main())
