"""One module per noun; each exposes `register(app)`."""
