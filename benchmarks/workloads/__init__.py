"""The benchmark workloads, one module per family, in the report's order.

Every module has
    NAME, TITLE            the key in results.json and the report's heading
    LIBRARIES              (optional) the libraries it times, each in its own process
                           (default: quasar, numpy, torch)
    run(timer, args, lib)  times ONE library ("quasar", "torch" or "numpy") and
                           returns its part of the results (rows whose columns
                           are named after the library: quasar_s, torch_s, ...),
                           or None when the workload has nothing to time for lib
    finish(res)            (optional) derived numbers once every library's part is merged
    section(res)           the report's markdown
    targets(res, add)      (optional) the issue 5 targets it measures
and, for the workloads that start processes of their own instead (memory and
the import-order matrix), IN_PARENT = True and run(timer, args).

A workload reaches the libraries through ``harness.libs`` (never by importing
quasar or torch at module level), so it runs in a process that imported only
the library it times. The helpers below hide the few places where the two
libraries' APIs differ (common.py).
"""

from . import hvp, importorder, kernels, matmul, memory, mlp, overhead, reference

# report order (the numbers are the sections' historical numbers)
MODULES = [importorder, overhead, kernels, matmul, mlp, reference, memory, hvp]
WORKLOADS = {m.NAME: m for m in MODULES}
