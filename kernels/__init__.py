"""Array kernels of the powderkeg market: pure functions over NumPy, CuPy or any array-API xp.

Modules (the public contract of docs/design.md, "The kernel contract"):

- ``backend``: choose the namespace (``get_namespace``), move results to the host (``to_numpy``),
  seeded generators (``make_rng``) and network aggregation (``segment_sum``);
- ``impact``: price impact of sales (exponential with depth, linear, Cont–Schaanning) and fills;
- ``firesale``: the batched fire-sale / deleveraging / liquidity-need fixed point (``fire_sale``);
- ``clearing``: Eisenberg–Noe and Rogers–Veraart clearing (``eisenberg_noe``);
- ``debtrank``: linear and original DebtRank (``debtrank``).

Kernels know nothing of Mesa or agents; every function takes arrays with any leading (ensemble)
axes and returns arrays in the same namespace and dtype, with an honest ``converged`` flag.
"""
