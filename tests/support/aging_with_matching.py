"""The aging service with matching's handlers (services/aging/matching_handlers.py) merged
into its ar.matching subscriptions - what `services.aging.projections` does once they are
wired there. Once they are, the merge below changes nothing.

    python -m tests.support.aging_with_matching
"""

from libs.events.topics import AR_MATCHING
from services.aging import main, projections
from services.aging.matching_handlers import HANDLERS

projections.HANDLERS[AR_MATCHING].update(HANDLERS)

if __name__ == "__main__":
    runtime, app = main.build()
    runtime.serve(app)
