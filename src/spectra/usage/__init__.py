"""Usage: usage records, the price table, rollups, reports, statements, forecasts, exports and
pool economics."""
