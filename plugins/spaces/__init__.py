"""Bundled search-space plugins: each module registers one space through ``register_spaces``."""
