"""The server's heap between runs: keep the full garbage collection after each run cheap.

Streamlit runs `gc.collect(2)` after every script run (`runner.postScriptGC`, on by default) so that cyclic
garbage cannot build up on a long-lived server. A full collection walks every tracked object, and most of
them are the code the app imported (the SDK, pydantic models, numpy, the catalog): ~140,000 objects, ~85 ms
on one core here, all of it holding the GIL while the last deltas of the run and its "finished" message wait
to be sent. That pause was most of the rerun's fixed cost.

`freeze_imports()` moves what is alive after a collection into the permanent generation (`gc.freeze()`),
so the next full collections walk only what runs created since. It freezes again only when new modules were
imported (a page visited for the first time, a feature's lazy import), never on an ordinary rerun: the
objects of a run stay collectable, and nothing of a session is kept forever beyond the few runs that
imported something.
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_when_frozen = 0


def freeze_imports() -> bool:
    """Freeze the heap if modules were imported since the last freeze; True when it froze."""
    global _modules_when_frozen
    if len(sys.modules) == _modules_when_frozen:  # the usual run: one comparison
        return False
    with _lock:  # sessions run their scripts in threads of their own
        if len(sys.modules) == _modules_when_frozen:
            return False
        gc.collect()  # garbage is not frozen: only what is still alive
        gc.freeze()
        _modules_when_frozen = len(sys.modules)
        return True
