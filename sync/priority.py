"""Background CPU priority for the app's helper processes (the sync worker, the embedded sandbox).

On a machine with few cores, a helper that is busy at normal priority takes the CPU the window needs:
the kernel lets a busy normal-priority task finish its time slice before a waking one runs, so a window
whose 5 ms timer fires while both cores are busy waits one to three milliseconds, again and again, even
when it has nothing else to do (measured, BENCHMARKS.md figure 3). Linux's ``SCHED_IDLE`` class is made
for this: any normal task that wakes up preempts it at once, and a core that runs only such tasks
counts as free when the kernel places a waking task. Elsewhere the lowest nice value is the best there
is. A background process still gets every cycle the foreground leaves, which on an idle desktop is
nearly all of them; under a foreground CPU hog it slows down, which is the point.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

LOWEST_NICE = 19


def run_in_background() -> str:
    """Lower this process's CPU priority to the background class; returns what was done (for the log)."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:  # a container's seccomp profile may refuse it: fall back to nice
            log.info("SCHED_IDLE refused (%s): using nice %d", exc, LOWEST_NICE)
        else:
            return "SCHED_IDLE"
    if hasattr(os, "nice"):
        try:
            os.nice(LOWEST_NICE - os.nice(0))
        except OSError as exc:
            log.info("could not lower the CPU priority: %s", exc)
            return "unchanged"
        return f"nice {os.nice(0)}"
    return "unchanged"
