"""evalkit.contacts."""
