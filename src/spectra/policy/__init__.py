"""Policy: the access decision and its trace (key scope, user status, packages, funding order)."""
