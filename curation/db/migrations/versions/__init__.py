"""Schema revisions, numbered 0001, 0002, ... (the number is what error messages call the schema)."""
