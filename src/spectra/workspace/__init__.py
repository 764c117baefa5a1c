"""Workspace settings (currency, time zone, thresholds, limits, webhooks): stored in the
database, changed through the admin entry, audited, cached for the hot path."""
