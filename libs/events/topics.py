"""Topic names, one per bounded context, each with a dead-letter twin.

Every message is keyed by the customer account id, so all events of one
customer stay in order on one partition.
"""

import os

ERP_CUSTOMERS = "erp.customers"
ERP_ORDERS = "erp.orders"
AR_INVOICING = "ar.invoicing"
AR_PAYMENTS = "ar.payments"
AR_MATCHING = "ar.matching"
AR_DUNNING = "ar.dunning"
AR_CREDIT = "ar.credit"

DOMAIN_TOPICS = (ERP_CUSTOMERS, ERP_ORDERS, AR_INVOICING, AR_PAYMENTS, AR_MATCHING,
                 AR_DUNNING, AR_CREDIT)


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


ALL_TOPICS = DOMAIN_TOPICS + tuple(dead_letter_topic(topic) for topic in DOMAIN_TOPICS)


def physical_topic(topic: str) -> str:
    """The topic's name on the cluster. KAFKA_TOPIC_PREFIX lets several environments
    (or test sessions) share one cluster without seeing each other's events."""
    return os.environ.get("KAFKA_TOPIC_PREFIX", "") + topic
