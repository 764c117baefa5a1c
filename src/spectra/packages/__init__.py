"""Packages: the versioned catalog, assignments to users and groups, periods and renewal."""
