"""Spectra: a self-hosted team workspace for AI coding."""

__version__ = "0.1.0"
