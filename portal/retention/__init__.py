"""Clean history: exporting bookings and deleting old ones for good."""
