"""``python -m sync.worker``: the sync worker process, started by :class:`sync.worker.SyncWorker`."""

import sys

from sync.worker.child import main

sys.exit(main())
