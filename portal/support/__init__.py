"""Platform support users: vendor staff who may help inside a business's staff area."""
