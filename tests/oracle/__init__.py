"""Tests against OVITO (run where ``ovito`` is importable; skipped otherwise)."""
