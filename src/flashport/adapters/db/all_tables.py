"""Every table of the platform's database on one metadata: the core (:mod:`.schema`) and the partner
integration's (:mod:`.partners_schema`). For what needs them all: migrations' drift check, tests that
empty the database."""

from flashport.adapters.db import notify_schema as _notify  # noqa: F401 - registers its tables
from flashport.adapters.db import partners_schema as _partners  # noqa: F401 - registers its tables
from flashport.adapters.db import tracking_schema as _tracking  # noqa: F401 - registers its tables
from flashport.adapters.db import waiting_room_schema as _waiting_room  # noqa: F401 - registers its tables
from flashport.adapters.db.schema import metadata

__all__ = ["metadata"]
