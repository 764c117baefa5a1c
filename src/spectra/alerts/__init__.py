"""Alerts: the event catalogue, rules, detection, the outbox of deliveries and the per-user inbox."""
