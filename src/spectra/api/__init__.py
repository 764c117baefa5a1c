"""Surface: the REST API (OpenAPI at /api/docs) for every admin and member action."""
