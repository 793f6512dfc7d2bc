# Independent cross-check for tests/check_trading.c (test_empyrical_crosscheck).
# Run: python3 -m venv v && v/bin/pip install numpy empyrical-reloaded && v/bin/python xcheck_empyrical.py
# Output pasted into the test (numpy 2.4.6, empyrical-reloaded 0.7.1). Not run in CI.
import numpy as np, empyrical as ep
base = 100000.0
D = np.array([1200, -800, 0, 2500, -3100, 400, 0, 1500, -200, 900], dtype=float)
E = base + np.cumsum(D)
prev = np.concatenate([[base], E[:-1]])
r = D / prev
for A, rf in [(252, 0.0), (252, 0.02), (365, 0.05)]:
    rfd = (1+rf)**(1/A) - 1
    adj = r - rfd
    sharpe = adj.mean()/adj.std(ddof=1)*np.sqrt(A)
    dd = np.sqrt(np.mean(np.minimum(adj, 0)**2))*np.sqrt(A)
    sortino = adj.mean()*A/dd
    cagr = (E[-1]/base)**(A/len(D)) - 1
    vol = r.std(ddof=1)*np.sqrt(A)
    print(f"A={A} rf={rf} numpy: sharpe={sharpe!r} sortino={sortino!r} cagr={cagr!r} vol={vol!r}")
    print(f"   empyrical: sharpe={ep.sharpe_ratio(r, risk_free=rfd, annualization=A)!r} sortino={ep.sortino_ratio(r, required_return=rfd, annualization=A)!r} cagr={ep.annual_return(r, annualization=A)!r} vol={ep.annual_volatility(r, annualization=A)!r}")
print("maxdd daily (empyrical)", ep.max_drawdown(r))
