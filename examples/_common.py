"""What the examples share: the fast-mode flag, the optional-package check,
and the guard against training on through a non-finite loss."""

import importlib
import math
import os
import sys

# QUASAR_EXAMPLE_FAST=1: fewer steps and epochs (the test suite runs every example this way)
FAST = os.environ.get("QUASAR_EXAMPLE_FAST", "") not in ("", "0")

try:  # run from a checkout without `pip install -e .`: find quasar one directory up
    import quasar  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def require(module, package=None):
    """Import an optional package, or exit with a message that says how to get it.

    module: the import name ("sklearn"); package: the pip name when it differs ("scikit-learn").
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = package or module
        sys.exit(
            f"This example needs the '{package}' package, which is not installed.\n"
            f"Install the examples' extras with:  pip install -e .[examples]\n"
            f"(or just this one:  pip install {package})"
        )


def check_finite(loss, step):
    """Stop with a message if the loss became nan or inf: training on would only spread it."""
    value = float(loss.item())
    if not math.isfinite(value):
        sys.exit(f"training stopped: the loss is {value} at step {step} (try a smaller learning rate)")
    return value
