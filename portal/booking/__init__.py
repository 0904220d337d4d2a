"""The client booking flow: availability, booking, managing and cancelling."""
