"""hermes-top: find, explain and safely reap leaked Hermes dashboard workers."""

__version__ = "0.1.0"
