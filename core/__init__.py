"""What every layer shares and none owns: settings, errors, atomic writes and locks, CLI plumbing."""
