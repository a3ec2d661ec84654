"""Layer 6, the ``li`` command line."""

from lawful_intercept.cli.main import main

__all__ = ["main"]
