"""evalkit.kpi."""
