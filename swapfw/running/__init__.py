"""Where scores are computed: one scoring task, and executor pools that run many.

Owns the unit of work (``tasks``: an architecture, its missing proxies and every setting they
depend on; ``run_task`` runs one anywhere) and the driver's side of executors (``executors``:
opening a pool, retrying a failed proxy once, reporting what failed twice), and the tuning of a
process that scores many networks (``process``).

It may import ``swapfw.scoring`` and everything below it.
"""
