"""diagnostics.diagnose and the dqn_helpers.diagnose CLI: hand-built logs for each symptom, a healthy
log, NaN rows, empty logs, and the logs of real short CartPole runs (a healthy one and broken ones)."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from dqn_helpers import diagnose as diagnose_cli
from dqn_helpers import diagnostics, logs

GAMMA = 0.99


def discounted(length: float) -> float:
    """The discounted return of a CartPole episode of this length (reward 1 per step)."""
    return (1 - GAMMA**length) / (1 - GAMMA)


Column = Callable[[int], float] | float | None


def episodes(
    n: int = 60,
    *,
    ret: Column = lambda i: min(20 + 6 * i, 200),
    q: Column = None,
    loss: Column = lambda i: 0.1 + 0.002 * i,
    grad: Column = 0.5,
    epsilon: Column = lambda i: max(0.05, 1 - i / 20),
    learn_from: int = 5,
    lr: float = 1e-3,
) -> list[dict[str, float]]:
    """CartPole-like episode rows (length = return). By default healthy: returns rise to 200 and
    stay, the Q-values stay at 60 % of what the episodes return (discounted), the loss is steady,
    ε reaches its floor at episode 19 (after learning starts at episode 5)."""

    def value(col: Column, i: int) -> float:
        return col(i) if callable(col) else (math.nan if col is None else col)

    rows, step = [], 0
    for i in range(n):
        r = value(ret, i)
        length = max(1, int(round(r)))
        step += length
        learning = i >= learn_from
        rows.append(
            {
                "step": step,
                "episode": i + 1,
                "episode_return": r,
                "episode_length": length,
                "loss": value(loss, i) if learning else math.nan,
                "mean_max_q": (0.6 * discounted(length) if q is None else value(q, i))
                if learning
                else math.nan,
                "td_error": 0.3 if learning else math.nan,
                "grad_norm": value(grad, i) if learning else math.nan,
                "epsilon": value(epsilon, i),
                "learning_rate": lr,
                "time": 0.01 * i,
            }
        )
    return rows


def evals(log_rows: list[dict[str, float]], means: list[float]) -> list[dict[str, float]]:
    """One evaluation per value, spread evenly over the log's steps."""
    last = log_rows[-1]["step"]
    k = len(means)
    return [
        {"step": int(last * (j + 1) / k), "mean_return": m, "std_return": 5.0, "episodes": 10}
        for j, m in enumerate(means)
    ]


def healthy() -> logs.TrainingLog:
    rows = episodes()
    return logs.TrainingLog(rows, evals(rows, [60, 140, 190, 200, 200, 198]))


def symptoms(log: object, **kw: object) -> list[str]:
    kw = {"gamma": GAMMA, "reward_max": 1.0, **kw}
    return [f.symptom for f in diagnostics.diagnose(log, **kw)]


# ----------------------------------------------------------------------- the findings themselves
def test_a_healthy_log_gives_no_findings_and_says_so():
    log = healthy()
    assert diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0) == []
    assert diagnostics.diagnose(log) == []  # without gamma / reward_max too
    assert diagnostics.format_findings([], log) == "healthy: no findings"


def test_findings_are_frozen_records_with_one_sentence_of_numbers():
    rows = episodes(ret=20.0, q=60.0)
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom in diagnostics.SYMPTOMS and isinstance(finding.step, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.step = 0  # type: ignore[misc]
    for sentence in (finding.evidence, finding.fix):
        assert sentence.endswith(".") and sentence.count(". ") == 0
    assert "60" in finding.evidence and "18.2" in finding.evidence  # Q and the realised value
    text = diagnostics.format_findings([finding], logs.TrainingLog(rows))
    assert text.splitlines()[:2] == ["1 finding:", f"[q_return_gap] at step {finding.step:,}"]
    assert "evidence: " in text and "fix: " in text


def test_return_collapse_from_the_greedy_evaluations():
    rows = episodes()
    log = logs.TrainingLog(rows, evals(rows, [60, 200, 480, 500, 140, 90]))
    (finding,) = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "return_collapse"
    assert finding.step == log.evals[4]["step"]  # the first evaluation of the fall that stayed
    assert "500" in finding.evidence and "best.pt" in finding.fix
    # a single bad evaluation at the end is not yet "stayed down"
    noisy = logs.TrainingLog(rows, evals(rows, [60, 200, 480, 500, 450, 90]))
    assert symptoms(noisy) == []
    # a rise that never came (10 -> 14) is no collapse either
    small = logs.TrainingLog(episodes(ret=12.0), evals(rows, [10, 14, 11, 9, 5]))
    assert "return_collapse" not in symptoms(small)


def test_return_collapse_from_training_returns_without_evaluations():
    def ret(i: int) -> float:
        return min(20 + 8 * i, 200) if i < 40 else 15.0

    rows = episodes(80, ret=ret)
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "return_collapse" and "training return" in finding.evidence
    assert rows[40]["step"] <= finding.step <= rows[50]["step"]


def test_q_above_the_bound_needs_gamma_and_reward_max():
    rows = episodes(q=lambda i: 60.0 if i < 50 else 150.0)  # r_max/(1-γ) = 100
    log = logs.TrainingLog(rows)
    (finding,) = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "q_above_bound" and finding.step == rows[50]["step"]
    assert "150" in finding.evidence and "100" in finding.evidence and "Double DQN" in finding.fix
    assert symptoms(log, reward_max=None) == []
    assert symptoms(log, gamma=None) == []
    # two noisy episodes a little above are not enough; one episode past 10x the bound is
    assert symptoms(logs.TrainingLog(episodes(q=lambda i: 130.0 if i in (30, 40) else 50.0))) == []
    spike = logs.TrainingLog(episodes(q=lambda i: 1500.0 if i == 30 else 50.0))
    assert symptoms(spike) == ["q_above_bound"]


def test_q_return_gap_compares_with_the_discounted_return_really_obtained():
    rows = episodes(ret=20.0, q=60.0)  # 20-step episodes are worth 18.2 discounted; Q says 60
    assert symptoms(logs.TrainingLog(rows)) == ["q_return_gap"]
    assert symptoms(logs.TrainingLog(rows), gamma=None) == []
    # within a factor of three of the realised value: the lag of a policy that is improving
    assert symptoms(logs.TrainingLog(episodes(ret=20.0, q=40.0))) == []


def test_loss_blowup_from_the_loss_or_the_gradient_norm():
    rows = episodes(loss=lambda i: 0.1 * 1.2 ** max(0, i - 20))  # x1,000 by the end
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "loss_blowup" and "loss grew from" in finding.evidence
    assert rows[40]["step"] <= finding.step <= rows[50]["step"] and "Huber" in finding.fix
    grad = episodes(grad=lambda i: 0.5 * 1.3 ** max(0, i - 20))
    (finding,) = diagnostics.diagnose(logs.TrainingLog(grad), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "loss_blowup" and "gradient norm" in finding.evidence
    # a loss that grows with the Q-values, x5: healthy
    assert symptoms(logs.TrainingLog(episodes(loss=lambda i: 0.1 + 0.01 * i))) == []


def test_loss_blowup_threshold_is_the_named_constant(monkeypatch):
    rows = episodes(loss=lambda i: 0.1 * 1.2 ** max(0, i - 20))
    monkeypatch.setattr(diagnostics, "LOSS_BLOWUP_FACTOR", 1e5)
    assert symptoms(logs.TrainingLog(rows)) == []


def test_a_loss_huge_from_the_first_update_is_a_blowup_when_reward_max_is_known():
    rows = episodes(loss=1e6, q=50.0)
    assert symptoms(logs.TrainingLog(rows)) == ["loss_blowup"]
    assert symptoms(logs.TrainingLog(rows), reward_max=None) == []  # no scale to judge it by


def test_nan_after_learning_started_but_not_the_gaps_before_or_between():
    def dead(i: int) -> float:
        return math.nan if i >= 50 else 0.2

    rows = episodes(loss=dead, grad=dead)
    for row in rows[50:]:
        row["mean_max_q"] = row["td_error"] = math.nan
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "nan" and finding.step == rows[50]["step"]
    assert "last 10 episodes" in finding.evidence and "checkpoint" in finding.fix
    # an inf is a finding at once
    rows = episodes(loss=lambda i: math.inf if i == 30 else 0.2)
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "nan" and "loss became inf" in finding.evidence
    # a NaN Q-value beside a finite loss is a numerical NaN, not an episode without updates
    rows = episodes()
    rows[30]["mean_max_q"] = math.nan
    assert symptoms(logs.TrainingLog(rows)) == ["nan"]


def test_episodes_between_bursts_of_updates_and_after_the_last_burst_are_no_nan():
    # lesson 05's schedule: 128 updates every 256 steps; short episodes (10 steps) end between bursts,
    # and the last 25 after the final burst have no update either: gaps, not a NaN network
    rows = episodes(200, ret=10.0, q=5.0)
    for row in rows:
        if row["step"] % 256 >= 10 or row["step"] > 1800:
            row.update(loss=math.nan, mean_max_q=math.nan, td_error=math.nan, grad_norm=math.nan)
    assert "nan" not in symptoms(logs.TrainingLog(rows))
    # ... while a loss that stays NaN for far longer than the pause between bursts still is
    for row in rows[100:]:
        row.update(loss=math.nan, mean_max_q=math.nan, td_error=math.nan, grad_norm=math.nan)
    assert "nan" in symptoms(logs.TrainingLog(rows))


def test_nan_rows_that_are_gaps_crash_no_rule_and_are_no_finding():
    rows = episodes()
    for i in (10, 11, 30, 58):  # episodes without a gradient step (e.g. two ending on one step)
        rows[i].update(loss=math.nan, mean_max_q=math.nan, td_error=math.nan, grad_norm=math.nan)
    rows[20]["episode_return"] = math.nan
    del rows[40]["epsilon"], rows[41]["loss"]  # missing entries read as NaN
    rows[41].update(mean_max_q=math.nan, td_error=math.nan, grad_norm=math.nan)
    log = logs.TrainingLog(rows, evals(rows, [60, math.nan, 190, 200, 200, 198]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning about empty slices leaks out
        assert symptoms(log) == []
    everything_nan = [{k: math.nan for k in logs.EPISODE_COLUMNS} for _ in range(20)]
    assert symptoms(logs.TrainingLog(everything_nan)) == []


def test_flat_returns_when_learning_never_started():
    rows = episodes(40, ret=lambda i: 22.0 - (i % 5), learn_from=10**6)
    found = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, learning_starts=5_000)
    assert [f.symptom for f in found] == ["flat_returns", "epsilon_before_learning"]
    assert "learning_starts=5,000" in found[0].evidence and "learning_starts" in found[0].fix


def test_flat_returns_when_the_q_values_stay_near_zero():
    rows = episodes(ret=lambda i: 20.0 + (i % 3), q=0.02, lr=1e-8)
    log = logs.TrainingLog(rows, evals(rows, [9.5, 9.4, 9.6, 9.3]))
    (finding,) = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "flat_returns" and finding.step is None
    assert "9.5" in finding.evidence and "far too small" in finding.fix
    # flat returns with Q-values that track them: maybe just a short run, not a finding
    assert symptoms(logs.TrainingLog(episodes(ret=20.0, q=10.0))) == []


def test_flat_returns_when_the_returns_rose_by_chance_but_the_q_values_are_stuck():
    # a terminal mask that cuts every bootstrap (lesson 11): y = r, so Q stays at one reward while
    # the greedy returns of that near-constant network rise by chance
    rows = episodes(ret=lambda i: 20.0 + i, q=1.0)
    log = logs.TrainingLog(rows, evals(rows, [10.0, 60.0, 50.0, 45.0]))
    (finding,) = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "flat_returns" and "stuck" in finding.evidence
    # values that grew (from 1 to 40 % of the return) are learning, even if slow: no finding
    grown = episodes(ret=lambda i: 20.0 + i, q=lambda i: 1.0 + 0.1 * i)
    log = logs.TrainingLog(grown, evals(grown, [10.0, 60.0, 50.0, 45.0]))
    assert diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0) == []


def test_flat_returns_when_every_episode_returned_zero():
    # a sparse task never solved (lesson 11): returns 0, Q-values 0; the realised value is 0 too,
    # so the "Q near zero" comparison cannot tell; the all-zero returns say it
    rows = episodes(ret=0.0, q=0.0)
    for i, row in enumerate(rows):
        row["episode_length"], row["step"] = 20, 20 * (i + 1)
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "flat_returns" and "returned exactly 0" in finding.evidence
    assert "60 training episodes" in finding.evidence and "denser" in finding.fix
    # a return of 0 is a sum of rewards: the message does not claim that no reward arrived
    assert "no reward reached" not in finding.evidence and "cancelled" in finding.evidence
    # one rewarded episode is a signal: no such finding
    rows[-1]["episode_return"] = 1.0
    assert "returned exactly 0" not in " ".join(
        f.evidence for f in diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA)
    )


def test_epsilon_at_its_floor_before_the_first_update():
    rows = episodes(epsilon=lambda i: max(0.05, 1 - i / 3), learn_from=10)
    (finding,) = diagnostics.diagnose(logs.TrainingLog(rows), gamma=GAMMA, reward_max=1.0)
    assert finding.symptom == "epsilon_before_learning" and finding.step == rows[3]["step"]
    assert f"{rows[10]['step']:,}" in finding.evidence and "epsilon_fraction" in finding.fix
    # a per-episode decay still running (never repeating its lowest value) has no floor yet
    still = episodes(epsilon=lambda i: 0.9**i, learn_from=10**6)
    assert "epsilon_before_learning" not in symptoms(logs.TrainingLog(still))


@pytest.mark.parametrize("n", [0, 1, 4])
def test_empty_and_one_row_logs_raise_nothing_and_say_they_are_too_short(n):
    log = logs.TrainingLog(episodes(n, learn_from=0))
    found = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0, learning_starts=1_000)
    assert found == []
    text = diagnostics.format_findings(found, log)
    assert (
        text.startswith("not enough data") and f"{n} episode row" in text and "train longer" in text
    )
    assert diagnostics.diagnose(logs.TrainingLog(evals=[{"step": 5, "mean_return": 1.0}])) == []


def test_a_short_log_still_reports_a_decisive_finding():
    log = logs.TrainingLog(episodes(2, q=5_000.0, learn_from=0))
    found = diagnostics.diagnose(log, gamma=GAMMA, reward_max=1.0)
    assert [f.symptom for f in found] == ["q_above_bound"]
    text = diagnostics.format_findings(found, log)
    assert text.startswith("not enough data") and "[q_above_bound]" in text


def test_a_run_folder_supplies_gamma_and_learning_starts_from_config_json(tmp_path):
    logs.TrainingLog(episodes(ret=20.0, q=60.0)).to_csv(tmp_path)
    assert diagnostics.diagnose(tmp_path) == []  # no γ: the gap is not judged
    (tmp_path / "config.json").write_text(json.dumps({"gamma": GAMMA, "learning_starts": 100}))
    assert [f.symptom for f in diagnostics.diagnose(tmp_path)] == ["q_return_gap"]
    (given,) = diagnostics.diagnose(str(tmp_path), gamma=0.5)  # an argument beats config.json
    assert "γ 0.5," in given.evidence
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        diagnostics.diagnose(tmp_path)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="gamma"):
        diagnostics.diagnose(healthy(), gamma=1.5)
    with pytest.raises(ValueError, match="reward_max"):
        diagnostics.diagnose(healthy(), reward_max=0)
    with pytest.raises(TypeError, match="TrainingLog"):
        diagnostics.diagnose(42)


def test_diagnostics_reads_logs_only():
    """The teaching layer: no import of the loop, the agent, the widgets or the CLIs."""
    tree = ast.parse(Path(diagnostics.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    forbidden = {f"dqn_helpers.{m}" for m in ("training", "agents", "widgets", "train")}
    assert not imported & forbidden


# ----------------------------------------------------------------------- real short runs
def _train(folder: Path, **overrides: object) -> Path:
    import torch

    from dqn_helpers import config, training

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loop's own warnings (no update, Q too high)
            cfg = config.preset(
                overrides.pop("preset", "cartpole"), eval_every=1000, eval_episodes=3, **overrides
            )
            training.train(cfg, out_dir=folder, progress=False)
    finally:
        torch.set_num_threads(threads)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        # The tuned preset shrunk to 3,000 steps, with ε decayed over half of them: shrunk as it
        # is (ε over 20 %), ε would reach its floor at step 600, before learning_starts=1,000.
        "healthy": _train(root / "healthy", total_steps=3000, epsilon_fraction=0.5),
        # learning_starts beyond the budget: not one gradient step
        "late": _train(root / "late", total_steps=3000, learning_starts=5000),
        # the lesson's plain DQN (MSE, no clipping) at γ 0.9 without a target network (tau=1
        # copies the online net after each update) and lr 1e-2: the Q-values run away at once
        "runaway": _train(
            root / "runaway",
            preset="lesson",
            total_steps=2000,
            gamma=0.9,
            target_update=0,
            tau=1.0,
            learning_rate=1e-2,
        ),
    }


def test_a_healthy_short_cartpole_run_has_no_findings(runs):
    log = logs.as_log(runs["healthy"])
    assert log.evals[-1]["mean_return"] > 2 * log.episodes[0]["episode_return"]  # it learned
    assert diagnostics.diagnose(runs["healthy"], reward_max=1.0) == []


def test_a_run_that_never_learns_is_flagged(runs):
    found = {f.symptom: f for f in diagnostics.diagnose(runs["late"], reward_max=1.0)}
    assert set(found) == {"flat_returns", "epsilon_before_learning"}
    assert "learning_starts=5,000" in found["flat_returns"].evidence  # read from config.json


def test_a_run_whose_q_values_run_away_is_flagged(runs):
    found = {f.symptom for f in diagnostics.diagnose(runs["runaway"], reward_max=1.0)}
    assert {"q_above_bound", "loss_blowup", "q_return_gap"} <= found


def test_cli_prints_the_findings_and_exits_0(runs, capsys):
    assert diagnose_cli.main([str(runs["healthy"]), "--reward-max", "1"]) == 0
    out = capsys.readouterr().out
    assert "γ 0.99 (config.json)" in out and out.strip().endswith("healthy: no findings")
    assert diagnose_cli.main([str(runs["late"])]) == 0
    out = capsys.readouterr().out
    assert (
        "2 findings:" in out
        and "[flat_returns]" in out
        and "[epsilon_before_learning] at step" in out
    )
    assert "--reward-max" in out  # says the bound was not checked
    assert "  evidence: " in out and "  fix: " in out


def test_cli_on_a_bad_folder_exits_2_with_one_line(tmp_path, capsys):
    def fails(argv: list[str]) -> str:
        assert diagnose_cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
        return captured.err

    assert "does not exist" in fails([str(tmp_path / "nowhere")])
    assert "no log.csv" in fails([str(tmp_path)])
    (tmp_path / "log.csv").write_text("step,episode_return\nabc,1\n")
    assert "could not convert" in fails([str(tmp_path)])
    (tmp_path / "log.csv").write_text("step,episode_return\n1,1\n")
    assert "gamma must be in [0, 1]" in fails([str(tmp_path), "--gamma", "2"])
    assert "reward_max must be > 0" in fails([str(tmp_path), "--reward-max", "-1"])
    # a one-row log is no error: the CLI says it is too short to judge
    assert diagnose_cli.main([str(tmp_path)]) == 0
    assert "not enough data: the log has 1 episode row;" in capsys.readouterr().out


def test_cli_as_a_module_exits_2_for_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dqn_helpers.diagnose", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "does not exist" in done.stderr and done.stdout == ""
