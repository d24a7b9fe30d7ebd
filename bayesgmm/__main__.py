"""``python -m bayesgmm``: the command line (see :mod:`bayesgmm.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
