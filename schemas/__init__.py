"""Every table schema of the project, declared once.

DDL, README tables and output validation are all derived from these declarations
(see :mod:`schemas.render`).
"""
from schemas.assessment_logs import ASSESSMENT_LOGS, RATING
from schemas.payload import GATEWAY_PAYLOAD, LEGACY_PAYLOAD, PayloadGeneration
from schemas.quarantine import QUARANTINE, QUARANTINE_REASONS
from schemas.request_logs import REQUEST_LOGS

__all__ = [
    "ASSESSMENT_LOGS",
    "GATEWAY_PAYLOAD",
    "LEGACY_PAYLOAD",
    "QUARANTINE",
    "QUARANTINE_REASONS",
    "RATING",
    "REQUEST_LOGS",
    "PayloadGeneration",
]
