"""The staff area: what signed-in staff and owners see under /staff/."""
