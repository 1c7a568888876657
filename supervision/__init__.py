"""Running N copies of one worker process from one command: shared by `python -m receiver` and `python -m
consumers`, which never import each other (`group.py`)."""
