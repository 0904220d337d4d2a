"""Businesses: the tenants every other record belongs to."""
