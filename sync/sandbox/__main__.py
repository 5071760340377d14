"""``python -m sync.sandbox``: the same as ``connectsafely-desktop sandbox``."""

import sys

from sync.sandbox.server import main

sys.exit(main(sys.argv[1:]))
