"""The conformance suite compares quasar with PyTorch (``make conformance``
installs the CPU build); it reuses the op tables in tests/."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
