"""Project-wide pytest set-up: the notebook guard, and fixture notebooks kept out of the normal run."""

pytest_plugins = ("tests.nbval_guard",)

# Notebooks that exist to fail (tests/test_nbval_guard.py runs them in a child pytest).
collect_ignore = ["tests/fixtures"]
