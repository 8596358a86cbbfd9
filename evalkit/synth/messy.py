"""Messy exports: placeholder (filled in below)."""
