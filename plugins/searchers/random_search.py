"""``random``: random search with the evolutionary searchers' budget, the baseline to beat."""

from swapfw import hookimpl


class RandomSearch:
    name = "random"
    description = "random search: population + cycles x mutations architectures, the best wins"

    def run(self, space, evaluate, settings, rng, on_cycle):
        budget = settings.population + settings.cycles * settings.mutations
        archs = space.sample(budget, settings.seed)
        best = max(zip(archs[:settings.population], evaluate(archs[:settings.population])), key=lambda m: m[1])
        rest = archs[settings.population:]
        for cycle in range(settings.cycles):
            chunk = rest[cycle * settings.mutations:(cycle + 1) * settings.mutations]
            if chunk:
                best = max(best, *zip(chunk, evaluate(chunk)), key=lambda m: m[1])
            on_cycle(best[1])
        return best


@hookimpl
def register_searchers(register):
    register(RandomSearch())
