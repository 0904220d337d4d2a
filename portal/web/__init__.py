"""Cross-cutting web pieces: headers, errors, health, formatting."""
