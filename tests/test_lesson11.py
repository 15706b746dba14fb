"""Lesson 11 (failure-mode gallery): the planted bugs and the small tasks do what the notebook says, the
arms runner keeps labels, seeds and measurements in order, the checkers name common mistakes (stubs and
solutions: test_exercises.py; the zero-reward arms under diagnose: test_diagnose_zero_reward.py)."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from nbutils import load, run_cells  # tests/ is on sys.path under pytest

from dqn_helpers import agents, buffers, checks, config, diagnostics, losses

NB = load("11_failure_modes")


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, arms runner and planted bugs, in fast mode."""
    threads = torch.get_num_threads()
    try:
        ns = run_cells(
            NB,
            "parameters",
            "arms",
            "train-arms",
            "summary",
            "bugs",
            "card-game",
            "two-tasks",
            "keep-best",
            "lock",
            "stub-11.3",
        )
        ns["ok_11_3"] = False  # the stub did not pass: REINFORCE runs the course's reinforce_loss
        return run_cells(NB, "solution-11.3", "policy-eval", "reinforce", namespace=ns)
    finally:
        torch.set_num_threads(threads)


def _batch(seed: int = 0) -> buffers.Batch:
    rng = np.random.default_rng(seed)
    buffer = buffers.ReplayBuffer(64, (4,), seed=seed)
    for i in range(64):
        obs, next_obs = rng.normal(size=4), rng.normal(size=4)
        buffer.add(obs, int(rng.integers(2)), 1.0, next_obs, i % 10 == 9, False)
    return buffer.sample(32)


def test_the_mask_bug_makes_every_td_target_the_reward(lesson):
    cfg = config.preset("cartpole-dqn", seed=3)
    agent = agents.DQNAgent(cfg, (4,), 2, device="cpu")
    right = copy.deepcopy(agent)
    batch = _batch()
    lesson["mask_bug"]("episode", None, agent)
    lesson["mask_bug"]("episode", None, agent)  # planting twice does not stack
    with torch.no_grad():
        q_taken = right.online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        want = losses.huber_loss(q_taken, batch.rewards).item()  # y = r: no bootstrap at all
        healthy = right.learn(batch)["loss"]
    got = agent.learn(batch)["loss"]
    assert got == pytest.approx(want, rel=1e-5) and got != pytest.approx(healthy, rel=1e-3)


def test_the_no_terminal_bug_makes_every_target_bootstrap(lesson):
    cfg = config.preset("cartpole-dqn", seed=3)
    agent = agents.DQNAgent(cfg, (4,), 2, device="cpu")
    right = copy.deepcopy(agent)
    batch = _batch()
    assert batch.terminated.sum() > 0  # the batch has terminal transitions to ignore
    lesson["no_terminal_bug"]("episode", None, agent)
    with torch.no_grad():
        q_taken = right.online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        y = (
            batch.rewards + cfg.gamma * right.target(batch.next_obs).max(dim=1).values
        )  # never masked
        want = losses.huber_loss(q_taken, y).item()
    assert agent.learn(batch)["loss"] == pytest.approx(want, rel=1e-5)


def test_the_card_game_pays_coin_flips_that_sum_to_zero(lesson):
    game = lesson["card_game"](config.preset("cartpole-dqn", seed=4))
    h, k = lesson["config"].horizon, lesson["config"].n_actions
    assert game.action_space.n == k
    for episode in range(3):
        obs, _ = game.reset(seed=episode)
        rewards, terminated = [], False
        while not terminated:
            obs, r, terminated, truncated, _ = game.step(episode % k)  # any action: the same game
            rewards.append(r)
        assert (
            len(rewards) == h
            and sum(rewards) == 0
            and set(rewards) == {1.0, -1.0}
            and not truncated
        )
        assert obs[0] == 0.0  # no time left at the end
    # every action turns the same card: two copies reset alike give the same rewards whatever they play
    a, b = lesson["CardGame"](k, h), lesson["CardGame"](k, h)
    a.reset(seed=9), b.reset(seed=9)
    assert [a.step(0)[1] for _ in range(h)] == [b.step(k - 1)[1] for _ in range(h)]


def test_the_combination_lock_opens_only_with_its_code(lesson):
    lock = lesson["CombinationLock"](5)
    lock.reset(seed=0)
    for i, digit in enumerate(lock.code):
        obs, r, terminated, truncated, _ = lock.step(int(digit))
        assert (r, terminated, truncated) == (
            (1.0, True, False) if i == 4 else (0.0, False, False)
        ), i
    lock.reset(seed=0)
    lock.step(int(lock.code[0]))
    obs, r, terminated, truncated, _ = lock.step(1 - int(lock.code[1]))  # a wrong digit
    assert (r, terminated, truncated, lock.position, obs[0]) == (
        0.0,
        False,
        False,
        0,
        1.0,
    )  # back to the start
    for _ in range(8):  # 2n steps in all: then the episode is cut, never terminated
        obs, r, terminated, truncated, _ = lock.step(1 - int(lock.code[0]))
    assert (terminated, truncated) == (False, True)
    assert lesson["CombinationLock"](5).code.tolist() == lock.code.tolist()  # one secret code


def test_keep_best_keeps_the_best_evaluation_network(lesson):
    from dqn_helpers import logs

    agent = agents.DQNAgent(config.preset("cartpole-dqn", seed=0), (5,), 2, device="cpu")  # task A
    log = logs.TrainingLog()
    snapshots = []
    for score in (20.0, 300.0, 100.0):
        with torch.no_grad():
            for p in agent.online.parameters():
                p.add_(1.0)
        log.evals.append({"step": 0, "mean_return": score})
        lesson["keep_best"]("eval", log, agent)
        snapshots.append(copy.deepcopy(agent.online.state_dict()))
    assert agent.best_eval == 300.0
    assert all(torch.equal(agent.best_state[k], v) for k, v in snapshots[1].items())
    score = lesson["fresh_score_of_best"](agent, episodes=2)
    assert all(torch.equal(agent.online.state_dict()[k], v) for k, v in snapshots[1].items())
    assert 1 <= score <= 500


def test_two_tasks_switch_from_a_to_b_with_the_actions_swapped(lesson):
    cfg = config.preset("cartpole", seed=5, total_steps=100)
    lesson["config"].switch_fraction = 0.5
    env, plain = lesson["a_then_b"](cfg), gym.make("CartPole-v1")
    assert env.observation_space.shape == (5,)

    def play(actions, seed):
        obs, _ = env.reset(seed=seed)
        plain.reset(seed=seed)
        for a in actions:
            obs, r, terminated, truncated, _ = env.step(a)
            want = plain.step(a if obs[4] == 0 else 1 - a)[0]
            assert np.allclose(obs[:4], want) and r == 1.0
            if terminated or truncated:
                break
        return obs[4]

    assert play([0, 1] * 30, seed=1) == 0.0  # task A: the actions as they are
    while env.steps < 50:  # the switch comes at the first reset after 50 steps
        play([0] * 5, seed=2)
    assert play([0, 1] * 10, seed=3) == 1.0  # after half the budget: task B, swapped
    a_only = lesson["task_a"](cfg)
    a_only.steps = 10**9  # however long it has played, the evaluation env stays on task A
    assert a_only.reset(seed=0)[0][4] == 0.0


def test_reinforce_plays_its_budget_and_is_seeded(lesson):
    with torch.random.fork_rng():  # reinforce seeds torch (in the notebook it runs in a worker)
        returns, score = lesson["reinforce"](0, total_steps=300)
        again, _ = lesson["reinforce"](0, total_steps=300)
        other, _ = lesson["reinforce"](1, total_steps=300)
    assert 300 <= sum(returns) < 300 + 500 and all(r >= 1 for r in returns)
    assert again == returns and other != returns
    assert 1 <= score <= 500


def test_reinforce_learns_cartpole_in_a_few_thousand_steps(lesson):
    with torch.random.fork_rng():
        returns, score = lesson["reinforce"](0, total_steps=8_000)
    # random play lasts about 22 steps; the policy gradient makes the pole stay up for longer
    assert np.mean(returns[-10:]) > 2 * np.mean(returns[:10]) and score > 50


def test_the_zero_reward_cartpole_pays_nothing_but_keeps_the_dynamics(lesson):
    env = lesson["ZeroReward"](gym.make("CartPole-v1", max_episode_steps=3))
    env.reset(seed=0)
    steps = [env.step(a) for a in (0, 1, 0)]
    assert [s[1] for s in steps] == [0.0, 0.0, 0.0] and steps[-1][3]  # truncated at the limit
    env = lesson["zero_reward_cartpole"](config.preset("cartpole-dqn", seed=1))
    env.reset(seed=1)
    total, done = 0.0, False
    while not done:  # always push left: the pole falls
        _, r, terminated, truncated, _ = env.step(0)
        total, done = total + r, terminated or truncated
    assert total == 0.0 and terminated


def test_train_arms_keeps_labels_and_seeds_and_plants_the_bugs(lesson, capsys):
    lesson["config"].seeds, lesson["config"].n_jobs = (0, 1), 1
    cfg = lesson["plain_dqn"](600, learning_starts=100)
    runs = lesson["train_arms"](
        {
            "plain": dict(
                cfg=cfg,
                measure=lambda agent: sum(p.sum().item() for p in agent.online.parameters()),
            ),
            "zero": dict(cfg=cfg, env_fn=lesson["zero_reward_cartpole"]),
            "mask": dict(cfg=cfg, plant=lesson["mask_bug"]),
        }
    )
    assert list(runs) == ["plain", "zero", "mask"] and all(len(v) == 2 for v in runs.values())
    measured = lesson["measured"]
    assert (
        measured["zero"] == [None, None] and len(set(measured["plain"])) == 2
    )  # one value per seed
    assert runs["plain"][0].episodes != runs["plain"][1].episodes  # two seeds, two runs
    assert all(np.all(log.column("episode_return") == 0) for log in runs["zero"])
    mask_q = np.nanmax(np.concatenate([log.column("mean_max_q") for log in runs["mask"]]))
    assert mask_q < 2.0  # y = r = 1: the values never grow past about one reward
    found = lesson["found"](runs)
    assert all("flat_returns" in names for names in found["zero"])
    lesson["summary"](runs)
    out = capsys.readouterr().out
    assert "zero" in out and "flat_returns" in out


def test_the_zero_reward_finding_on_a_real_run(lesson):
    lesson["config"].seeds, lesson["config"].n_jobs = (2,), 1
    cfg = lesson["plain_dqn"](800, learning_starts=100)
    arm = {"zero": dict(cfg=cfg, env_fn=lesson["zero_reward_cartpole"])}
    (log,) = lesson["train_arms"](arm)["zero"]
    (finding,) = [f for f in diagnostics.diagnose(log, gamma=0.99) if f.symptom == "flat_returns"]
    assert "returned exactly 0" in finding.evidence and "denser" in finding.fix


def test_checkers_name_common_mistakes(capsys):
    def against_r_max(mean_max_q, reward_max, gamma):
        return next((i for i, q in enumerate(mean_max_q) if q > reward_max), None)

    def returns_the_value(mean_max_q, reward_max, gamma):
        bound = reward_max / (1 - gamma) if gamma < 1 else float("inf")
        return next((q for q in mean_max_q if q > bound), None)

    def last_only(eval_returns, keep=0.5):
        e = np.asarray(eval_returns, float)
        return bool(len(e) >= 3 and e.max() >= 2 * e[0] and e[-1] < e[0] + keep * (e.max() - e[0]))

    def no_rise_needed(eval_returns, keep=0.5):
        e = np.asarray(eval_returns, float)
        return bool(len(e) >= 3 and np.all(e[-2:] < e[0] + keep * (e.max() - e[0])))

    cases = [
        (checks.check_first_impossible_q, against_r_max, "not with r_max"),
        (checks.check_first_impossible_q, returns_the_value, "not the value"),
        (checks.check_collapse_detector, last_only, "ask for the last two"),
        (checks.check_collapse_detector, no_rise_needed, "cannot forget"),
    ]
    for checker, broken, words in cases:
        assert checker(broken) is False, broken.__name__
        assert words in capsys.readouterr().out, broken.__name__


def _returns_to_go(rewards, gamma):
    g, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        g[t] = running
    return g


def _loss_with(weights):
    """A reinforce_loss whose per-step weight on log π is weights(rewards, gamma): a slip to reject."""

    def reinforce_loss(log_probs, rewards, gamma):
        w = torch.as_tensor(weights(np.asarray(rewards, float), gamma), dtype=torch.float32)
        return -(log_probs * w).sum()

    reinforce_loss.__name__ = weights.__name__
    return reinforce_loss


def _standardised(g):
    return (g - g.mean()) / (g.std() + 1e-8)


def test_check_reinforce_loss_accepts_correct_variants_and_names_each_slip(capsys):
    def vectorised_torch(log_probs, rewards, gamma):
        # returns-to-go by a discounted cumulative sum, torch's std (Bessel's correction), float64
        r = torch.as_tensor(np.asarray(rewards, float))
        disc = gamma ** torch.arange(len(r), dtype=torch.float64)
        g = torch.flip(torch.cumsum(torch.flip(r * disc, [0]), 0), [0]) / disc
        g = (g - g.mean()) / (g.std() + 1e-8)
        return -(log_probs.double() * g).sum()

    def per_step_loop(log_probs, rewards, gamma):
        g = [
            sum(gamma ** (k - t) * rewards[k] for k in range(t, len(rewards)))
            for t in range(len(rewards))
        ]
        g = np.array(g)
        g = (g - np.mean(g)) / (np.std(g) + 1e-8)
        return -sum(lp * float(w) for lp, w in zip(log_probs, g))

    def course(log_probs, rewards, gamma):
        return -(log_probs * torch.as_tensor(_standardised(_returns_to_go(rewards, gamma)))).sum()

    for correct in (vectorised_torch, per_step_loop, course):
        assert checks.check_reinforce_loss(correct) is True, correct.__name__
    capsys.readouterr()

    def sign(r, gamma):
        return -_standardised(_returns_to_go(r, gamma))

    def mean_not_sum(r, gamma):
        return _standardised(_returns_to_go(r, gamma)) / len(r)

    def not_standardised(r, gamma):
        return _returns_to_go(r, gamma)

    def only_centred(r, gamma):
        g = _returns_to_go(r, gamma)
        return g - g.mean()

    def reward_not_return(r, gamma):
        return _standardised(r) + 0.0 * r

    def whole_episode_return(r, gamma):
        return np.full(len(r), _returns_to_go(r, gamma)[0])

    def forward_sum(r, gamma):
        return _standardised(np.cumsum(r))

    def not_discounted(r, gamma):
        return _standardised(_returns_to_go(r, 1.0))

    slips = [
        (sign, "minus sign"),
        (mean_not_sum, "a mean divides"),
        (not_standardised, "standardise the returns"),
        (only_centred, "only subtracted the mean"),
        (reward_not_return, "same weight"),  # CartPole's rewards are all 1: standardised, 0
        (whole_episode_return, "whole episode's return"),
        (forward_sum, "to the END of the episode"),
        (not_discounted, "not the plain sum"),
    ]
    for weights, words in slips:
        assert checks.check_reinforce_loss(_loss_with(weights)) is False, weights.__name__
        out = capsys.readouterr().out
        assert words in out, (weights.__name__, out)

    def detached(log_probs, rewards, gamma):
        return torch.tensor(float(course(log_probs.detach(), rewards, gamma)))

    assert checks.check_reinforce_loss(detached) is False
    assert "carries no gradient" in capsys.readouterr().out
