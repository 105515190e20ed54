"""Keep what a started server holds for its whole life out of the garbage collector's way.

Requests that wait (an analytics event waits a few milliseconds for its group commit) outlive a
collection of the collector's young generation, so what they hold is promoted, and the collector
then runs full collections of the whole heap every second or so: about 120 ms each for the
~180,000 objects a started server holds, an eighth of the event loop's time under load. So once
the application has started (the policy loaded, the routes, SQLAlchemy's and pydantic's
structures built: all kept for the life of the process), it collects once and freezes what exists
(:func:`gc.freeze`); full collections then look only at what was allocated since (a few
milliseconds each).
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_once() -> None:
    """Collect, then exclude what the process holds from later collections (once a process)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
