"""``python -m assistant`` sub-commands: each module parses its arguments and calls the library."""
