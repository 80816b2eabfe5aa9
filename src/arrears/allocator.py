"""How long Polars' memory allocator keeps freed pages before handing them back to the system.

Polars allocates through jemalloc and, when it is imported, asks it to hand freed pages back to the
system after half a second (a second for pages already marked reusable), to keep a process's
memory low; the next large frame then faults every page in again. A day's cycle builds and frees
frames of hundreds of megabytes, step after step: a million-account first day on SQLite took 4.5
million page faults with Polars' settings and 2.0 million with freed pages kept for 30 s, 15.7 s of
system time against 11.8 s, 50.2 s against 47.4 s of wall time (means of three runs each), for
about 0.45 GiB more resident memory at the peak (docs/cycle.md).

jemalloc reads its settings once, when the process first allocates through it, so they must be in
the environment before ``polars`` is first imported: :func:`configure` (called when the ``arrears``
package is imported) sets ``_RJEM_MALLOC_CONF`` unless the environment already has it, and Polars
puts a value found there after its own, so it wins. A process that imports ``polars`` before
``arrears`` keeps Polars' settings; set the variable yourself to choose (an empty value keeps
Polars' settings too).
"""

from __future__ import annotations

import os
from typing import Final

__all__ = ["ENV_VAR", "POLARS_MALLOC_CONF", "configure"]

ENV_VAR: Final = "_RJEM_MALLOC_CONF"
POLARS_MALLOC_CONF: Final = "dirty_decay_ms:30000,muzzy_decay_ms:30000"


def configure() -> str:
    """Set the allocator's settings for this process and its children, unless already set; returns
    the value in force."""
    return os.environ.setdefault(ENV_VAR, POLARS_MALLOC_CONF)
