"""The `hanyi` command line: thin glue over the library (one file per command)."""
