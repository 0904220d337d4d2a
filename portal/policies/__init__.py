"""Terms and conditions and the cancellation policy, as versioned texts."""
