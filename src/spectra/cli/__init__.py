"""Surface: the `spectra` command (Typer + Rich)."""
