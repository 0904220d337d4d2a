"""HIPAA mode: one switch that tightens sign-in, sessions, transport and notifications."""
