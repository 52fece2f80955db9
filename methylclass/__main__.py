"""``python -m methylclass …``: the same command line as the ``methylclass`` script."""

import sys

from .cli import main

sys.exit(main())
