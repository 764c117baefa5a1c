"""One module per console area; each exposes `router` (paths relative to /console)."""
