"""Evolutionary searchers: ``swap-nas`` (the paper's Algorithm 1, spending its budget on new
architectures), ``swap-nas-paper`` (Algorithm 1 exactly as written) and ``aging-evolution``.

All work on any space through its ``sample``, ``mutate`` and ``crossover`` operators and report
the population's best score after every cycle. A search with ``--budget`` and no ``--cycles``
runs until the budget of distinct architectures is spent.
"""

import itertools

from swapfw import hookimpl

#: single mutations of the parent tried per offspring before walking further away from it
FRESH_TRIES = 30
#: further mutation steps of that walk before a searcher accepts an architecture already scored
WALK_STEPS = 1000


def _mutate(space, arch, rng):
    """One op or connectivity mutation, chosen at random."""
    return space.mutate(arch, rng, kind=rng.choice(("op", "connectivity")))


def _fresh_mutation(space, arch, rng, evaluate, taken: set):
    """A mutation of ``arch`` not scored yet and not already proposed this cycle: one of FRESH_TRIES
    single mutations, else a random walk of further mutations from the last of them (an elitist
    population converges until every neighbour of its best is scored; without the walk, its
    offspring would then cost nothing and a search bounded by a budget would never end). In a space
    exhausted within the walk, the last draw."""
    child = arch
    for step in range(FRESH_TRIES + WALK_STEPS):
        child = _mutate(space, arch if step < FRESH_TRIES else child, rng)
        if not evaluate.known(child) and child not in taken:
            break
    taken.add(child)
    return child


def _cycles(settings):
    """Cycle numbers: ``settings.cycles`` of them, or endless when the budget is what ends the search."""
    return range(settings.cycles) if settings.cycles is not None else itertools.count()


class SwapNasPaper:
    """Algorithm 1 as the paper writes it: a tournament of ``sample_size``; the parent is the best,
    or (with ``crossover_prob``) the better child of a crossover of the best two; ``mutations``
    mutated offspring; the best offspring joins, the worst member leaves (elitism, not ageing).
    Offspring may repeat architectures already scored (they cost no evaluation, but the cycle)."""

    name = "swap-nas-paper"
    description = "SWAP-NAS Algorithm 1 exactly as published: tournament, crossover, mutation, remove the worst"
    fresh = False

    def run(self, space, evaluate, settings, rng, on_cycle):
        members = space.sample(settings.population, settings.seed)
        population = list(zip(members, evaluate(members)))
        for _ in _cycles(settings):
            ranked = sorted(rng.sample(population, settings.sample_size), key=lambda m: m[1], reverse=True)
            parent = ranked[0][0]
            if len(ranked) > 1 and rng.random() < settings.crossover_prob:
                children = list(space.crossover(ranked[0][0], ranked[1][0], rng))
                parent = max(zip(children, evaluate(children)), key=lambda m: m[1])[0]
            offspring = self.offspring(space, parent, rng, evaluate, settings.mutations)
            population.append(max(zip(offspring, evaluate(offspring)), key=lambda m: m[1]))
            population.remove(min(population, key=lambda m: m[1]))
            on_cycle(max(score for _, score in population))
        return max(population, key=lambda m: m[1])

    def offspring(self, space, parent, rng, evaluate, count):
        if not self.fresh:
            return [_mutate(space, parent, rng) for _ in range(count)]
        taken: set = set()
        return [_fresh_mutation(space, parent, rng, evaluate, taken) for _ in range(count)]


class SwapNas(SwapNasPaper):
    """Algorithm 1 with its offspring drawn among architectures not scored yet, so that every
    evaluation of the budget looks at a new network (the paper's version re-proposes ones it has
    seen, and a budget of cycles buys fewer distinct networks than random search would)."""

    name = "swap-nas"
    description = "SWAP-NAS Algorithm 1, offspring drawn among architectures not scored yet"
    fresh = True
    default = True


class AgingEvolution:
    """Regularised evolution (Real et al., 2019): the best of a tournament is mutated and the
    child replaces the oldest member; the best ever seen is the answer. Children are drawn among
    architectures not scored yet where one turns up."""

    name = "aging-evolution"
    description = "regularised (aging) evolution, Real et al. 2019"

    def run(self, space, evaluate, settings, rng, on_cycle):
        members = space.sample(settings.population, settings.seed)
        population = list(zip(members, evaluate(members)))
        best = max(population, key=lambda m: m[1])
        for _ in _cycles(settings):
            for _ in range(settings.mutations):  # the same number of evaluations per cycle as swap-nas
                parent = max(rng.sample(population, settings.sample_size), key=lambda m: m[1])[0]
                child = _fresh_mutation(space, parent, rng, evaluate, set())
                population.append((child, evaluate([child])[0]))
                population.pop(0)
                best = max(best, population[-1], key=lambda m: m[1])
            on_cycle(best[1])
        return best


@hookimpl
def register_searchers(register):
    register(SwapNas())
    register(SwapNasPaper())
    register(AgingEvolution())
