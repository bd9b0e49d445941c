"""Presentation shared by the CLI and the TUI, without Textual: state marks,
ages, limits, the rows of the process tree, FD history and trends."""
