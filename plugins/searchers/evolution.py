"""Evolutionary searchers: ``swap-nas`` (the paper's Algorithm 1) and ``aging-evolution``.

Both work on any space through its ``sample``, ``mutate`` and ``crossover`` operators and
report the population's best score after every cycle.
"""

from swapfw import hookimpl


def _mutate(space, arch, rng):
    """One op or connectivity mutation, chosen at random."""
    return space.mutate(arch, rng, kind=rng.choice(("op", "connectivity")))


class SwapNas:
    """Tournament of ``sample_size``; the parent is the best, or (with ``crossover_prob``) the
    better child of a crossover of the best two; ``mutations`` mutated offspring; the best
    offspring joins, the worst member leaves (elitism, not ageing)."""

    name = "swap-nas"
    description = "SWAP-NAS evolution (Algorithm 1): tournament, crossover, mutation, remove the worst"

    def run(self, space, evaluate, settings, rng, on_cycle):
        members = space.sample(settings.population, settings.seed)
        population = list(zip(members, evaluate(members)))
        for _ in range(settings.cycles):
            ranked = sorted(rng.sample(population, settings.sample_size), key=lambda m: m[1], reverse=True)
            parent = ranked[0][0]
            if len(ranked) > 1 and rng.random() < settings.crossover_prob:
                children = list(space.crossover(ranked[0][0], ranked[1][0], rng))
                parent = max(zip(children, evaluate(children)), key=lambda m: m[1])[0]
            offspring = [_mutate(space, parent, rng) for _ in range(settings.mutations)]
            population.append(max(zip(offspring, evaluate(offspring)), key=lambda m: m[1]))
            population.remove(min(population, key=lambda m: m[1]))
            on_cycle(max(score for _, score in population))
        return max(population, key=lambda m: m[1])


class AgingEvolution:
    """Regularised evolution (Real et al., 2019): the best of a tournament is mutated and the
    child replaces the oldest member; the best ever seen is the answer."""

    name = "aging-evolution"
    description = "regularised (aging) evolution, Real et al. 2019"

    def run(self, space, evaluate, settings, rng, on_cycle):
        members = space.sample(settings.population, settings.seed)
        population = list(zip(members, evaluate(members)))
        best = max(population, key=lambda m: m[1])
        for _ in range(settings.cycles):
            for _ in range(settings.mutations):  # the same number of evaluations per cycle as swap-nas
                parent = max(rng.sample(population, settings.sample_size), key=lambda m: m[1])[0]
                child = _mutate(space, parent, rng)
                population.append((child, evaluate([child])[0]))
                population.pop(0)
                best = max(best, population[-1], key=lambda m: m[1])
            on_cycle(best[1])
        return best


@hookimpl
def register_searchers(register):
    register(SwapNas())
    register(AgingEvolution())
