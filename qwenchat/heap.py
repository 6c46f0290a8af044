"""The server's heap between runs: keep the full garbage collection after each run cheap.

Streamlit runs `gc.collect(2)` after every script run (`runner.postScriptGC`, on by default) so that cyclic
garbage cannot build up on a long-lived server. A full collection walks every tracked object, and most of
them are the code the app imported (the SDK, pydantic models, numpy, the catalog): ~140,000 objects, ~85 ms
on one core here, all of it holding the GIL while the last deltas of the run and its "finished" message wait
to be sent. That pause was most of the rerun's fixed cost.

`freeze_imports()` collects, then moves what is still alive into the permanent generation (`gc.freeze()`),
so the next full collections walk only what runs created since. It freezes again only when runs have imported
a library's worth of new modules since (pypdf, python-docx, jieba, psycopg: 50-100 modules and ~10,000 objects
each, ~7 ms per collection), not for a page's first visit (a few modules, ~400 objects) and never on an
ordinary rerun, so what runs create stays in the collector's reach. The price, a few times in a server's
life: an object alive at a freeze that later becomes part of an unreachable cycle is not collected (~400
objects per session then open; objects outside cycles are still freed by reference counting, frozen or not).
"""

from __future__ import annotations

import gc
import sys
import threading

MIN_NEW_MODULES = 20  # a library, not a page's own components
_lock = threading.Lock()
_modules_when_frozen = 0


def freeze_imports() -> bool:
    """Freeze the heap on the first run and after a library's import; True when it froze."""
    global _modules_when_frozen
    if not _due():  # the usual run: one comparison
        return False
    with _lock:  # sessions run their scripts in threads of their own
        if not _due():
            return False
        gc.collect()  # garbage is not frozen: only what is still alive
        gc.freeze()
        _modules_when_frozen = len(sys.modules)
        return True


def _due() -> bool:
    return not _modules_when_frozen or len(sys.modules) - _modules_when_frozen >= MIN_NEW_MODULES
