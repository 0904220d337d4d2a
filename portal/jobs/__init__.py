"""Background jobs and what keeps two runs of one job apart."""
