"""The layer kinds, one module each, and the explicit registry of their names in network files."""
