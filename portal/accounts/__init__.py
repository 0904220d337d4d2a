"""Staff accounts."""
