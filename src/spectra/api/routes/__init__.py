"""One module per domain; each exposes `router` (an APIRouter, paths relative to /api)."""
