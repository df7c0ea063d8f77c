"""``python -m crispin ARGS`` is the ``crispin`` command (``crispin.server.cli``)."""

import sys

from crispin.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
