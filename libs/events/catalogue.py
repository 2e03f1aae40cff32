"""The event catalogue: every integration event, one module per bounded context.

Business dates (shipped_on, issue_date, due_date, value_date) are dates, kept
apart from the moment an event was recorded, which travels in `ce_time`.
Importing this module registers every event type. A new bounded context adds one
module with its `__all__` and one line here.
"""

from . import credit, dunning, erp, invoicing, matching, payments
from .credit import *  # noqa: F403
from .dunning import *  # noqa: F403
from .erp import *  # noqa: F403
from .invoicing import *  # noqa: F403
from .matching import *  # noqa: F403
from .payments import *  # noqa: F403

__all__ = [*erp.__all__, *invoicing.__all__, *payments.__all__, *matching.__all__,
           *dunning.__all__, *credit.__all__]
