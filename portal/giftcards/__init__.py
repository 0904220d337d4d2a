"""Gift cards: issued by the owner, redeemed by clients when booking."""
