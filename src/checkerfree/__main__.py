"""``python -m checkerfree`` runs the command line."""

import sys

from checkerfree.cli import main

sys.exit(main())
