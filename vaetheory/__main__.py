"""``python -m vaetheory``: the same command as the ``vaetheory`` console script."""
from vaetheory.cli import main

if __name__ == "__main__":
    main()
