"""`python -m hanyi ...` is the same as `hanyi ...`."""

from hanyi.cli.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
