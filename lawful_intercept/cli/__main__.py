"""``python -m lawful_intercept.cli``: the ``li`` command."""

import sys

from lawful_intercept.cli.main import main

sys.exit(main())
