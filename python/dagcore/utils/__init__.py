"""Small shared helpers of the dagcore package (no side effects at import)."""
