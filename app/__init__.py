"""A GraphQL authentication backend."""
