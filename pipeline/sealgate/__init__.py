"""sealgate: protect AI models on their way to production."""

__version__ = "0.1.0"
