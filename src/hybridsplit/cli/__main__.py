"""`python -m hybridsplit.cli ...`, the same as the `hybridsplit` console script."""

from hybridsplit.cli import main

if __name__ == "__main__":
    main()
