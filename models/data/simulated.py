"""Simulate the data sets of the simulation notebooks and write them next to this script.

Each is drawn with bayesmix's own simulator from stated true values, with the same design,
values and seeds as the notebook that builds it, so ``models/*.toml`` fits exactly the data
the notebook shows:

- ``clusters_intercepts.csv`` and ``clusters_slopes.csv`` (``notebooks/simulating.ipynb``):
  100 clusters x 10 rows, x ~ N(0, 1); y from ``y ~ x + (1 | cluster)`` (intercept 3, slope
  0.75, tau 0.5, sigma 1) and from ``y ~ x + (1 + x | cluster)`` (cluster SDs 0.5 and 0.25,
  correlation 0.25).
- ``lexical_decision.csv`` (``notebooks/crossed_subjects_items.ipynb``): 40 subjects x 30
  items, one trial per cell, ``cond`` (-0.5/0.5) a property of the item; rt from
  ``rt ~ cond + (1 + cond | subj) + (1 | item)``.
- ``wages.csv`` (``notebooks/stata_lme4.ipynb``): 13 occupations x 6 age groups, 4-12 workers
  each; wage from ``wage ~ tenure + married + (tenure || occupation) + (tenure || occupation:age)``.
- ``clinics.csv`` (``notebooks/planning.ipynb``): 30 clinics x 10 patients, systolic blood
  pressure from ``sbp ~ x + (1 | clinic)`` at the planning values.
- ``parasites.csv`` (README, families): parasite counts of fish in 25 lakes, 6-14 fish
  each, ``count ~ length + offset(log(days)) + (1 | lake)`` as negative binomial (shape 1.5;
  ``days`` each fish was exposed).
- ``ratings.csv`` (README, families): 1-5 ratings by 60 students of 12 courses (every
  student rates every course), ``rating ~ workload + (1 | student) + (1 | course)`` as a
  cumulative logit model (cutpoints -2, -0.7, 0.6, 2; ``workload`` a course property).

    python models/data/simulated.py
"""

from pathlib import Path

import numpy as np

import bayesmix as bm

HERE = Path(__file__).parent

INTERCEPTS = {"b": {"Intercept": 3.0, "x": 0.75}, "sd": {"cluster": 0.5}, "sigma": 1.0}
SLOPES = {
    "b": {"Intercept": 3.0, "x": 0.75},
    "sd": {"cluster": {"Intercept": 0.5, "x": 0.25}},
    "cor": {"cluster": 0.25},
    "sigma": 1.0,
}
LEXICAL = {
    "b": {"Intercept": 600.0, "cond": 25.0},
    "sd": {"subj": {"Intercept": 50.0, "cond": 15.0}, "item": 30.0},
    "cor": {"subj": 0.3},
    "sigma": 60.0,
}
WAGES = {
    "b": {"Intercept": 6.0, "tenure": 0.25, "married": 0.4},
    "sd": {
        "occupation": {"Intercept": 1.5, "tenure": 0.08},
        "occupation:age": {"Intercept": 0.6, "tenure": 0.04},
    },
    "sigma": 1.2,
}
PARASITES = {"b": {"Intercept": -1.0, "length": 0.35}, "sd": {"lake": 0.6}, "shape": 1.5}
RATINGS = {
    "b": {"workload": -0.5},
    "sd": {"student": 0.8, "course": 0.5},
    "Intercept": [-2.0, -0.7, 0.6, 2.0],
}
CLINICS = {"b_Intercept": 130.0, "b_x": 3.0, "sd_clinic__Intercept": 8.0, "sigma": 15.0}


def clusters_intercepts():
    df = bm.simulate.design({"cluster": 100}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
    return bm.Model.from_design("y ~ x + (1 | cluster)", df).simulate(INTERCEPTS, seed=2)


def clusters_slopes():
    df = bm.simulate.design({"cluster": 100}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
    return bm.Model.from_design("y ~ x + (1 + x | cluster)", df).simulate(SLOPES, seed=4)


def lexical_decision():
    design = bm.simulate.design(
        {"subj": 40, "item": 30},
        structure="crossed",
        between={"item": {"cond": np.tile([-0.5, 0.5], 15)}},
        seed=11,
    )
    return bm.Model.from_design("rt ~ cond + (1 + cond | subj) + (1 | item)", design).simulate(
        LEXICAL, seed=12
    )


def wages():
    design = bm.simulate.design(
        {"occupation": 13, "age": 6},
        rows=(4, 12),
        within={"tenure": "uniform(0, 15)", "married": "bernoulli(0.6)"},
        seed=1,
    )
    model = bm.Model.from_design(
        "wage ~ tenure + married + (tenure || occupation) + (tenure || occupation:age)", design
    )
    df = model.simulate(WAGES, seed=2)
    df["union"] = model.simulate(WAGES, seed=3)["wage"].gt(9.0).astype(int)
    return df


def clinics():
    d = bm.simulate.design({"clinic": 30}, rows=10, within={"x": "normal(0, 1)"}, seed=1)
    return bm.Model.from_design("sbp ~ x + (1 | clinic)", d).simulate(CLINICS, seed=3)


def parasites():
    d = bm.simulate.design(
        {"lake": 25}, rows=(6, 14), within={"length": "normal(0, 1)", "days": "uniform(5, 30)"}, seed=1
    )
    d["days"] = d["days"].round()
    formula = "count ~ length + offset(np.log(days)) + (1 | lake)"
    return bm.Model.from_design(formula, d, family="negbinomial").simulate(PARASITES, seed=2)


def ratings():
    rng = np.random.default_rng(5)
    d = bm.simulate.design(
        {"student": 60, "course": 12},
        structure="crossed",
        between={"course": {"workload": np.round(rng.normal(0, 1, 12), 2)}},
        seed=5,
    )
    formula = "rating ~ workload + (1 | student) + (1 | course)"
    return bm.Model.from_design(formula, d, family="cumulative").simulate(RATINGS, seed=6)


if __name__ == "__main__":
    for name, make in [
        ("clusters_intercepts", clusters_intercepts),
        ("clusters_slopes", clusters_slopes),
        ("lexical_decision", lexical_decision),
        ("wages", wages),
        ("clinics", clinics),
        ("parasites", parasites),
        ("ratings", ratings),
    ]:
        df = make()
        df.attrs = {}
        df.round(4).to_csv(HERE / f"{name}.csv", index=False)
        print(f"wrote {len(df)} rows to {HERE / (name + '.csv')}")
