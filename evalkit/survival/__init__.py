"""evalkit.survival."""
