"""Seeds in parallel: ``training.run_seeds`` with N workers against the same seeds one by one.

What a learner feels when a lesson compares settings over seeds: the wall time of the whole
comparison. Both sides train the same `cartpole` preset runs (one torch thread each) and must
give the same logs; the figure is the throughput ratio, sequential wall time / parallel wall time
(the issue's bar on a 2-core machine: >= 1.7x with 2 workers). The parallel time includes
starting the worker processes.

    .venv/bin/python benchmarks/bench_run_seeds.py              # 4 seeds x 15,000 steps, 2 workers
    .venv/bin/python benchmarks/bench_run_seeds.py --seeds 6 --steps 30000 --workers 2
"""

from __future__ import annotations

import argparse
import time

from dqn_helpers import config, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="how many seeds (0, 1, ...)")
    parser.add_argument("--steps", type=int, default=15_000, help="agent steps per run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cfg = config.preset("cartpole", total_steps=args.steps, checkpoint_every=0)
    seeds = list(range(args.seeds))

    start = time.perf_counter()
    sequential = training.run_seeds(cfg, seeds, n_jobs=1, progress=False)
    t_seq = time.perf_counter() - start
    start = time.perf_counter()
    parallel = training.run_seeds(cfg, seeds, n_jobs=args.workers, progress=False)
    t_par = time.perf_counter() - start

    same = all(
        [(r["step"], r["mean_return"]) for r in a.evals]
        == [(r["step"], r["mean_return"]) for r in b.evals]
        for a, b in zip(sequential, parallel)
    )
    steps = args.seeds * args.steps
    print(
        f"{args.seeds} seeds x {args.steps:,} steps of the cartpole preset (evaluations included)"
    )
    print(f"  one after another : {t_seq:6.1f} s  ({steps / t_seq:6.0f} agent steps/s)")
    print(
        f"  {args.workers} workers (joblib): {t_par:6.1f} s  ({steps / t_par:6.0f} agent steps/s)"
    )
    print(
        f"  throughput ratio  : {t_seq / t_par:.2f}x   same evaluations: {'yes' if same else 'NO'}"
    )


if __name__ == "__main__":
    main()
