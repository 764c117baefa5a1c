"""Budgets: per-key budgets and limits, projects (members, keys, a monthly budget) and budget
extensions. The access decision reads them (policy); the gateway enforces them in memory."""
