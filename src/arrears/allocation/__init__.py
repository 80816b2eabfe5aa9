"""Work allocation: collectors and teams, ordered queues, assignment, and agency placements.

Importing the package registers its tables on :class:`arrears.store.tables.Base`.
"""

from arrears.allocation import tables as tables
