"""ziwo-reports: contact-center reporting pipeline for Ziwo."""

__version__ = "0.1.0"
