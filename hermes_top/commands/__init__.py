"""CLI subcommands. Each module has ``register(subparsers)`` and thin ``run`` functions
that call the core and print; no logic that the TUI would need lives here."""
