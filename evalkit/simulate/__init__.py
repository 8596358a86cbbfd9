"""evalkit.simulate."""
