"""The Python package against the command line (the same numbers, bit for bit), against closed-form
scalar solutions, and on bad input. The CLI binary: $MIRRORFLOW_BIN, or target/release/mirrorflow."""

import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pytest

import mirrorflow

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("MIRRORFLOW_BIN", str(ROOT / "target" / "release" / "mirrorflow"))

A = np.array([[1.0, 2.0, 0.5, -0.3], [0.3, -1.0, 2.0, 0.7]])
Y = np.array([1.0, -0.5])


def cli(*args):
    """Runs the CLI with JSON output; returns (exit code, parsed JSON)."""
    run = subprocess.run([BIN, *args, "--format", "json"], capture_output=True, text=True)
    return run.returncode, json.loads(run.stdout)


@pytest.fixture()
def data(tmp_path):
    path = tmp_path / "data.json"
    # json.dumps writes the shortest repr of each float, which the CLI parses correctly rounded
    path.write_text(json.dumps({"a": A.tolist(), "y": Y.tolist()}))
    return str(path)


def same(py, cli_list):
    return np.array_equal(np.asarray(py, dtype=float), np.asarray(cli_list, dtype=float))


def test_flow_matches_the_cli_bit_for_bit(data):
    options = dict(depth=2, q=1.5, alpha=0.1, model="two-sided", times=[0.5, 1.0, 2.0])
    out = mirrorflow.flow(A, Y, **options)
    code, ref = cli("flow", "--data", data, "--depth", "2", "--q", "1.5", "--alpha", "0.1",
                    "--model", "two-sided", "--times", "0.5,1,2")
    assert code == 0 and out["status"] == ref["status"] == "ok"
    assert same(out["x"], ref["x"]) and same(out["w"], ref["w"]) and out["loss"] == ref["loss"]
    traj = out["trajectory"]
    # t = 0, the sample times, and (q < 2) the finite-time arrival at ∇f = 0, where the state is held
    assert traj["x"].shape == (len(ref["trajectory"]), 4) and set([0.0, 0.5, 1.0, 2.0]) <= set(traj["t"])
    assert out["stationary_at"] == ref["stationary_at"]
    assert same(traj["t"], [s["t"] for s in ref["trajectory"]])
    assert same(traj["x"], [s["x"] for s in ref["trajectory"]])
    assert same(traj["loss"], [s["loss"] for s in ref["trajectory"]])


def test_train_matches_the_cli_bit_for_bit(data):
    for optimizer in ["gd", "adamw"]:
        out = mirrorflow.train(A, Y, optimizer=optimizer, lr=1e-3, steps=500, depth=2, alpha=0.1,
                               model="two-sided", weight_decay=1e-2, samples=5)
        code, ref = cli("train", "--data", data, "--optimizer", optimizer, "--lr", "1e-3", "--steps", "500",
                        "--depth", "2", "--alpha", "0.1", "--model", "two-sided", "--weight-decay", "1e-2",
                        "--samples", "5")
        assert code == 0
        assert same(out["x"], ref["x"]) and same(out["w"], ref["w"]) and out["steps"] == ref["steps"] == 500
        assert np.array_equal(out["trajectory"]["step"], [s["step"] for s in ref["trajectory"]])


def test_bias_and_escape_match_the_cli(data):
    out = mirrorflow.bias(A, Y, depth=3, alpha=0.05, model="two-sided")
    code, ref = cli("bias", "--data", data, "--depth", "3", "--alpha", "0.05", "--model", "two-sided")
    assert code == 0 and out["status"] == "ok" and same(out["x"], ref["x"])
    out = mirrorflow.escape(depth=3, q=1.25, alpha=1e-3, gradient=2.0)
    code, ref = cli("escape", "--depth", "3", "--q", "1.25", "--alpha", "1e-3", "--gradient", "2")
    assert code == 0 and out["status"] == "ok"
    assert out["closed_form"] == ref["closed_form"] and out["integrated"] == ref["integrated"]


def test_check_gives_the_cli_outcomes():
    outcomes = mirrorflow.check("escape-time")
    run = subprocess.run([BIN, "check", "escape-time", "--format", "json", "--quiet"], capture_output=True, text=True)
    ref = json.loads(run.stdout)
    assert [o["theorem"] for o in outcomes] == [o["theorem"] for o in ref]
    assert [o["verdict"] for o in outcomes] == [o["verdict"] for o in ref]
    assert all(o["matches"] for o in outcomes) and outcomes[0]["verdict"] == "PASS"
    # a wrong claim through `set` fails, as on the command line
    wrong = mirrorflow.check("escape-time", set={"predict_q": 2.0}, controls=False)
    assert wrong[0]["verdict"] == "FAIL"


def test_trajectories_follow_closed_form_scalar_solutions():
    # depth 1, GF on ½(a x − y)²: x(t) = c + (α − c) e^{−a² t}, c = y/a
    a, y, alpha = 1.5, 0.6, 0.1
    times = [0.1, 0.5, 1.0, 3.0]
    out = mirrorflow.flow([[a]], [y], depth=1, q=2.0, alpha=alpha, times=times)
    c = y / a
    exact = [c + (alpha - c) * math.exp(-a * a * t) for t in times]
    # integration at rtol 1e-12: a relative error far below 1e-9
    assert np.allclose(out["trajectory"]["x"][1:, 0], exact, rtol=1e-9, atol=0)
    # depth 2 balanced (x = u²): ẋ = k x (c − x), k = 2a², the logistic curve
    out = mirrorflow.flow([[a]], [y], depth=2, q=2.0, alpha=alpha, times=times)
    x0, k = alpha**2, 2 * a * a
    exact = [c / (1 + (c / x0 - 1) * math.exp(-k * c * t)) for t in times]
    assert np.allclose(out["trajectory"]["x"][1:, 0], exact, rtol=1e-9, atol=0)


def test_two_sided_flow_reaches_the_bregman_projection():
    flow = mirrorflow.flow(A, Y, depth=2, q=2.0, alpha=0.05, model="two-sided", until_loss=1e-20, t_end=1e6)
    proj = mirrorflow.bias(A, Y, depth=2, alpha=0.05, model="two-sided")
    assert flow["status"] == "ok" and proj["status"] == "ok"
    # loss 1e-20 leaves ‖Ax − y‖ ≈ 1.4e-10 off the constraint set; the projection solve to ~1e-12
    assert np.linalg.norm(flow["x"] - proj["x"]) <= 1e-7 * np.linalg.norm(proj["x"])


def test_label_noise_reaches_the_weighted_l1_interpolator():
    # x* = (1, 0.8, 0, 0) minimises Σ‖A_j‖²|x_j| s.t. Ax = y, certified by hand with ν = (1, 1)
    # (tests/literature.rs); noise-free GD from α = 1 ends 0.4 or more away from it
    a = np.array([[1.0, 0.0, 2.0, 0.6], [0.0, 1.0, 2.0, -0.6]])
    y = np.array([1.0, 0.8])
    common = dict(optimizer="gd", lr=0.04, steps=80000, model="two-sided", depth=2, alpha=1.0)
    out = mirrorflow.train(a, y, label_noise=1.0, noise_schedule="cosine:0@0.3-0.7", seed=3, **common)
    assert out["status"] == "ok" and out["noise_schedule"] == "cosine:0@0.3-0.7"
    np.testing.assert_allclose(out["x"], [1.0, 0.8, 0.0, 0.0], atol=1e-9)
    assert np.abs(mirrorflow.train(a, y, **common)["x"] - [1.0, 0.8, 0.0, 0.0]).max() > 0.4


def test_mean_loss_is_the_sum_loss_in_time_scaled_by_n():
    # f_mean = f_sum / n: gradient flow (q = 2) on f_mean at time n·t is the flow on f_sum at time t
    n = A.shape[0]
    s = mirrorflow.flow(A, Y, depth=2, q=2.0, alpha=0.1, model="two-sided", times=[1.0])
    m = mirrorflow.flow(A, Y, depth=2, q=2.0, alpha=0.1, model="two-sided", times=[float(n)], loss_scale="mean")
    assert np.allclose(s["x"], m["x"], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: mirrorflow.flow(A, Y, depth=2, q=3.0, alpha=0.1), "q"),
        (lambda: mirrorflow.flow(A, Y, depth=0, q=2.0, alpha=0.1), "depth"),
        (lambda: mirrorflow.flow(A, Y, depth=2, q=2.0, alpha=-1.0), "alpha"),
        (lambda: mirrorflow.flow(A, Y, depth=2, q=2.0, alpha=0.1, colour="red"), "colour"),
        (lambda: mirrorflow.flow(A[0], Y, depth=2, q=2.0, alpha=0.1), "a"),
        (lambda: mirrorflow.flow(A, Y[:1], depth=2, q=2.0, alpha=0.1), "y"),
        (lambda: mirrorflow.flow(np.where(A > 1.5, np.nan, A), Y, depth=2, q=2.0, alpha=0.1), "a[0][1]"),
        (lambda: mirrorflow.train(A, Y, optimizer="sgdx", lr=0.1, steps=10, depth=2, alpha=0.1), "optimizer"),
        (lambda: mirrorflow.check("no-such-card"), "no-such-card"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_keyword(call, name):
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("]", r"\]")):
        call()
