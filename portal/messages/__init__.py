"""The owner's view of the outbox: messages that could not be delivered, and sending them again."""
