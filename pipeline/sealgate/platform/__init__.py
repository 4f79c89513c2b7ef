"""One ComponentResource per concern of the platform."""
