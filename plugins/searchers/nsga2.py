"""``nsga2``: NSGA-II (Deb et al., 2002) over any space, for a Pareto front of ``--objectives``.

pymoo runs the algorithm (non-dominated sorting, crowding distance, binary tournaments); the
space supplies its operators: ``sample`` for the first population, ``crossover`` and ``mutate``
(an offspring not scored yet where one turns up) for the next. Each generation of ``population``
offspring is one batch of ``evaluate.objectives``. An architecture over a deployment budget gets
the worst value of every objective, so it never survives a generation.
"""

import itertools

import numpy as np

from swapfw import hookimpl

#: the objective values of an architecture that failed or broke a budget: dominated by every other
WORST = 1e30
#: single mutations tried for an offspring not scored yet before accepting one already scored
FRESH_TRIES = 30


class Nsga2:
    name = "nsga2"
    description = "NSGA-II (pymoo) for a Pareto front of --objectives, with the space's own operators"
    multi_objective = True

    def run(self, space, evaluate, settings, rng, on_cycle):
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.crossover import Crossover
        from pymoo.core.duplicate import ElementwiseDuplicateElimination
        from pymoo.core.mutation import Mutation
        from pymoo.core.problem import Problem
        from pymoo.core.sampling import Sampling

        objectives = list(settings.objectives or ["proxy"])
        best = {"score": -np.inf, "arch": None}

        class Archs(Problem):
            def __init__(self):
                super().__init__(n_var=1, n_obj=max(2, len(objectives)), vtype=object)

            def _evaluate(self, x, out, *args, **kwargs):
                archs = [row[0] for row in x]
                rows = evaluate.objectives(archs)
                minimised = []
                for arch, row in zip(archs, rows):
                    if row is None:
                        minimised.append([WORST] * self.n_obj)
                        continue
                    minimised.append([-row[o] if o == "proxy" else row[o] for o in objectives]
                                     + [0.0] * (self.n_obj - len(objectives)))
                    if "proxy" in row and row["proxy"] > best["score"]:
                        best.update(score=row["proxy"], arch=arch)
                out["F"] = np.array(minimised, dtype=float)

        class FromSpace(Sampling):
            def _do(self, problem, n_samples, **kwargs):
                return np.array(space.sample(n_samples, settings.seed), dtype=object).reshape(-1, 1)

        class SpaceCrossover(Crossover):
            def __init__(self):
                super().__init__(2, 2)

            def _do(self, problem, x, **kwargs):
                children = np.empty_like(x)
                for k in range(x.shape[1]):
                    a, b = x[0, k, 0], x[1, k, 0]
                    if rng.random() < settings.crossover_prob:
                        a, b = space.crossover(a, b, rng)
                    children[0, k, 0], children[1, k, 0] = a, b
                return children

        class SpaceMutation(Mutation):
            def _do(self, problem, x, **kwargs):
                for row in x:
                    child = row[0]
                    for _ in range(FRESH_TRIES):
                        child = space.mutate(row[0], rng, kind=rng.choice(("op", "connectivity")))
                        if not evaluate.known(child):
                            break
                    row[0] = child
                return x

        class SameArch(ElementwiseDuplicateElimination):
            def is_equal(self, a, b):
                return space.canonical(a.X[0]) == space.canonical(b.X[0])

        algorithm = NSGA2(pop_size=settings.population, sampling=FromSpace(), crossover=SpaceCrossover(),
                          mutation=SpaceMutation(), eliminate_duplicates=SameArch())
        problem = Archs()
        algorithm.setup(problem, termination=("n_gen", 10 ** 9), seed=settings.seed, verbose=False)
        generations = range(settings.cycles) if settings.cycles is not None else itertools.count()
        for generation in itertools.chain([None], generations):  # first the sampled population, then each cycle
            population = algorithm.ask()
            algorithm.evaluator.eval(problem, population)
            algorithm.tell(infills=population)
            if generation is not None:
                on_cycle(best["score"])
        return best["arch"], best["score"]


@hookimpl
def register_searchers(register):
    register(Nsga2())
