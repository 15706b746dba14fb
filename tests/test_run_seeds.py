"""training.run_seeds: seeds in worker processes give the same logs, in seed order, as one by one."""

from __future__ import annotations

import math

import pytest
import torch

from dqn_helpers import config, training


def _rows(log: object) -> list[list[float]]:
    """The log's rows without wall time, NaN made comparable."""
    out = []
    for row in log.episodes + log.evals:  # type: ignore[attr-defined]
        out.append(
            [
                -1e300 if isinstance(v, float) and math.isnan(v) else v
                for k, v in sorted(row.items())
                if k != "time"
            ]
        )
    return out


@pytest.fixture(scope="module")
def small() -> config.DQNConfig:
    return config.preset(
        "cartpole",
        total_steps=1_500,
        learning_starts=200,
        eval_every=500,
        eval_episodes=3,
        checkpoint_every=0,
    )


def test_parallel_seeds_match_sequential_seeds_in_seed_order(small: config.DQNConfig) -> None:
    seeds = [3, 0, 1]
    parallel = training.run_seeds(small, seeds, n_jobs=2, progress=False)
    sequential = training.run_seeds(small, seeds, n_jobs=1, progress=False)
    assert [_rows(a) for a in parallel] == [_rows(b) for b in sequential]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        direct = training.train(small.replace(seed=3), progress=False).log
    finally:
        torch.set_num_threads(threads)
    assert _rows(parallel[0]) == _rows(direct), "the first log is seed 3's"
    assert _rows(parallel[0]) != _rows(parallel[1]), "different seeds give different runs"
    assert torch.get_num_threads() == threads, "run_seeds leaves the caller's thread count alone"


def test_run_seeds_writes_one_folder_per_seed_and_can_keep_agents(
    small: config.DQNConfig, tmp_path: object
) -> None:
    results = training.run_seeds(
        small.replace(total_steps=600, eval_every=300),
        [0, 1],
        n_jobs=2,
        out_dir=tmp_path,
        progress=False,
        keep_agents=True,
    )
    assert [r.agent.config.seed for r in results] == [0, 1]
    for seed in (0, 1):
        assert (tmp_path / f"seed{seed}" / "checkpoint.pt").exists()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("seeds", "n_jobs", "match"),
    [
        ([], None, "seeds is empty"),
        ([1, 1], None, "distinct"),
        ([0], 0, "n_jobs"),
        ([0], 1.5, "n_jobs"),
    ],
)
def test_bad_arguments(
    small: config.DQNConfig, seeds: list[int], n_jobs: object, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        training.run_seeds(small, seeds, n_jobs=n_jobs, progress=False)  # type: ignore[arg-type]


def test_compare_runs_every_variant_on_every_seed_like_run_seeds(small: config.DQNConfig) -> None:
    variants = {"preset": {}, "lr 1e-2": {"learning_rate": 1e-2, "lr_end": None}}
    out = training.compare(small, variants, [0, 1], n_jobs=2, progress=False)
    assert list(out) == ["preset", "lr 1e-2"] and all(len(v) == 2 for v in out.values())
    same = training.run_seeds(small, [0, 1], n_jobs=1, progress=False)
    assert [_rows(a) for a in out["preset"]] == [_rows(b) for b in same]
    assert _rows(out["preset"][0]) != _rows(out["lr 1e-2"][0]), "the variant changed the run"
    with pytest.raises(ValueError, match="unknown DQNConfig field"):
        training.compare(small, {"bad": {"learning_rat": 1.0}}, [0], progress=False)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_workers_warning_reaches_the_caller_once_per_run_naming_its_seed(
    small: config.DQNConfig, n_jobs: int
) -> None:
    import warnings

    idle = small.replace(total_steps=300, learning_starts=300, eval_every=300, eval_episodes=1)
    # no match= here: pytest.warns would emit the warnings that do not match again, as noise
    with pytest.warns(UserWarning) as got:
        training.run_seeds(idle, seeds=[4, 5], n_jobs=n_jobs, progress=False)
    messages = [str(w.message) for w in got if "learning_starts" in str(w.message)]
    assert len(messages) == 2, messages
    assert messages[0].startswith("seed 4: learning_starts=300 >= total_steps=300"), messages
    assert messages[1].startswith("seed 5: "), messages
    with warnings.catch_warnings():  # and the caller's filter silences it, as for an in-process run
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="seed .*learning_starts")
        training.run_seeds(idle, seeds=[4], n_jobs=n_jobs, progress=False)
