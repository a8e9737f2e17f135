"""Authentication primitives: tokens, passwords, identifiers, the viewer."""
