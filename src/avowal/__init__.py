"""avowal: a privacy policy that enforces itself."""

__version__ = "0.1.0"
