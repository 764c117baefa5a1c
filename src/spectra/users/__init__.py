"""Users, roles, groups (teams) with their budgets, membership, console sign-in and sessions."""
