"""Outgoing e-mail: queued on the database session, sent after it commits."""
