"""The background sync process: the sync engine's passes, run by a child process at background priority.

**Who does what.** The GUI process keeps the event stream, every action the user waits for (send,
recall, mark read, open a conversation, older history) and its own cache writer, so none of them queues
behind a sync or a background-priority process. The worker runs :class:`~sync.engine.SyncEngine` passes
on request — :meth:`SyncWorker.sync_once`, :meth:`~SyncWorker.reconcile_conversation`,
:meth:`~SyncWorker.sync_new_messages` — with its own API client (a share of the request budget) and its
own cache writer; the change sets it commits come back to the parent, whose windows apply them as they
apply their own process's writes (ARCHITECTURE.md §4).

The package's modules: :mod:`~sync.worker.protocol` (the frames, their wire format, how failures cross
it), :mod:`~sync.worker.proxy` (:class:`SyncWorker`, the parent's handle, and the budgets) and
:mod:`~sync.worker.child` (the worker process, ``python -m sync.worker``). Import the names from here.
"""

from sync.worker.protocol import WorkerBug, WorkerLost
from sync.worker.proxy import GUI_BUDGET, WORKER_BUDGET, SyncWorker, WorkerConfig

__all__ = ["GUI_BUDGET", "WORKER_BUDGET", "SyncWorker", "WorkerBug", "WorkerConfig", "WorkerLost"]
