"""Baseline for `mirrorflow bench`: gradient flow on the weights of x = w_1 ⊙ … ⊙ w_L (one-sided)
for f(x) = ½‖Ax − y‖², integrated by scipy's solve_ivp (LSODA, rtol 1e-10) until f ≤ target (a
terminal event, located by scipy's root finder on the dense output).

Reads a JSON file named on the command line: {"a": [[…]], "y": […], "w0": […] (L·d, layer-major),
"depth": L, "t_max": T, "loss_target": ε, "rtol": …, "atol": …, "repeats": k}.
Prints JSON: {"seconds": best of k wall times, "nfev", "njev", "t", "x", "loss", "status"}.
"""
import json
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp


def main():
    spec = json.load(open(sys.argv[1]))
    a = np.array(spec["a"], dtype=float)
    y = np.array(spec["y"], dtype=float)
    depth = int(spec["depth"])
    d = a.shape[1]
    w0 = np.array(spec["w0"], dtype=float)

    def rhs(_t, w):
        layers = w.reshape(depth, d)
        x = np.prod(layers, axis=0)
        g = a.T @ (a @ x - y)
        out = np.empty_like(layers)
        for i in range(depth):
            others = np.prod(np.delete(layers, i, axis=0), axis=0)
            out[i] = -others * g
        return out.ravel()

    target = float(spec["loss_target"])

    def reached(_t, w):
        x = np.prod(w.reshape(depth, d), axis=0)
        return 0.5 * float(np.sum((a @ x - y) ** 2)) - target

    reached.terminal = True
    reached.direction = -1
    best, sol = None, None
    for _ in range(int(spec.get("repeats", 3))):
        start = time.perf_counter()
        sol = solve_ivp(rhs, (0.0, float(spec["t_max"])), w0, method="LSODA", rtol=float(spec["rtol"]),
                        atol=float(spec["atol"]), events=reached)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    w = sol.y[:, -1]
    t = float(sol.t[-1])
    if sol.t_events[0].size:
        w = sol.y_events[0][0]
        t = float(sol.t_events[0][0])
    x = np.prod(w.reshape(depth, d), axis=0)
    print(json.dumps({
        "seconds": best,
        "nfev": int(sol.nfev),
        "njev": int(sol.njev),
        "t": t,
        "x": x.tolist(),
        "loss": 0.5 * float(np.sum((a @ x - y) ** 2)),
        "status": "reached" if sol.t_events[0].size else sol.message,
    }))


if __name__ == "__main__":
    main()
