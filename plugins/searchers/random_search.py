"""``random``: random search with the evolutionary searchers' budget, the baseline to beat.

It scores distinct architectures only: ``population + cycles x mutations`` of them, or
``--budget`` of them when the budget, not a count of cycles, ends the search (drawing again
where candidates over a deployment budget were turned away, which the budget does not count).
"""

from swapfw import hookimpl

#: further draws of ``total`` architectures where candidates over a budget left some of ``--budget`` unspent
MORE_DRAWS = 20


class RandomSearch:
    name = "random"
    description = "random search: distinct architectures, as many as the others' budget, the best wins"

    def run(self, space, evaluate, settings, rng, on_cycle):
        if settings.cycles is None:
            total = settings.budget
        else:
            total = settings.population + settings.cycles * settings.mutations
            total = min(total, settings.budget or total)
        archs = space.sample(total, settings.seed)
        best = max(zip(archs[:settings.population], evaluate(archs[:settings.population])), key=lambda m: m[1])
        rest = archs[settings.population:]
        for draw in range(1, MORE_DRAWS + 1):
            for start in range(0, len(rest), settings.mutations):
                chunk = rest[start:start + settings.mutations]
                best = max(best, *zip(chunk, evaluate(chunk)), key=lambda m: m[1])
                on_cycle(best[1])
            if settings.cycles is not None or not evaluate.remaining:
                break
            # candidates over a deployment budget are not counted: draw again for the budget left
            rest = [a for a in space.sample(total, settings.seed + draw * 7919) if not evaluate.known(a)]
        return best


@hookimpl
def register_searchers(register):
    register(RandomSearch())
