"""The account pool: upstream accounts, their state machine and health, and the scheduler."""
