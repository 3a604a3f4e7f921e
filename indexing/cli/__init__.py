"""``python -m indexing`` commands, one module per group of subcommands."""
