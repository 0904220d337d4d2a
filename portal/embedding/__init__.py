"""Embedding the public pages in the business's own site: allowlist, headers, embed mode."""
