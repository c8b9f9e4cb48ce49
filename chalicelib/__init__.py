"""chalicelib."""
