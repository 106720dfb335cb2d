"""Simulate the restaurant-complaints data (orders nested in restaurants).

The seed exercise (Stata ``melogit``) models whether an order drew a complaint
from the serving staff's characteristics with a restaurant random intercept;
its data are not available, so this script simulates data of that shape from
known parameters (printed below) and writes ``restaurant_complaints.csv``.

    python models/data/restaurant_complaints.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

TRUE = {
    "Intercept": -2.0,  # log-odds of a complaint for a novice, male server, weekday, median bill
    "experience": -0.25,  # per year of the server's experience
    "female": -0.30,  # female server
    "weekend": 0.50,  # weekend order
    "log_bill": 0.60,  # per unit of log(bill)
    "sd_restaurant": 0.70,  # SD of the restaurant intercepts (logit scale)
}


def simulate(n_restaurants: int = 60, seed: int = 20261122) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.normal(0, TRUE["sd_restaurant"], n_restaurants)
    rows = []
    for j in range(n_restaurants):
        n_orders = rng.integers(20, 60)
        n_servers = rng.integers(3, 8)
        exp_years = rng.gamma(2.0, 2.0, n_servers).round(1)
        female = rng.integers(0, 2, n_servers)
        server = rng.integers(0, n_servers, n_orders)
        weekend = rng.random(n_orders) < 2 / 7
        log_bill = rng.normal(0, 0.5, n_orders)
        eta = (
            TRUE["Intercept"]
            + TRUE["experience"] * exp_years[server]
            + TRUE["female"] * female[server]
            + TRUE["weekend"] * weekend
            + TRUE["log_bill"] * log_bill
            + u[j]
        )
        complaint = rng.random(n_orders) < 1 / (1 + np.exp(-eta))
        for i in range(n_orders):
            rows.append(
                {
                    "restaurant": f"R{j + 1:02d}",
                    "server": f"R{j + 1:02d}-S{server[i] + 1}",
                    "experience": exp_years[server[i]],
                    "female": int(female[server[i]]),
                    "weekend": int(weekend[i]),
                    "bill": round(float(np.exp(3.3 + log_bill[i])), 2),
                    "complaint": "Y" if complaint[i] else "N",
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    df = simulate()
    out = Path(__file__).with_name("restaurant_complaints.csv")
    df.to_csv(out, index=False)
    print(f"wrote {len(df)} orders in {df.restaurant.nunique()} restaurants to {out}; true values {TRUE}")
