"""The command line's framework: options, names, formatting, exit codes, the entry point."""
