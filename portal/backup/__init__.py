"""Encrypted, consistent backups of the database: ``portal backup`` and ``portal restore``."""
