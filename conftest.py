"""Project-wide pytest set-up: the notebook guard, and fixture notebooks kept out of the normal run."""

pytest_plugins = ("tests.nbval_guard",)

# Notebooks that exist to fail (tests/test_nbval_guard.py runs them in a child pytest).
collect_ignore = ["tests/fixtures"]

FIRST = "tests/test_prepare.py"  # the longest file: it exports every notebook's models


def pytest_collection_modifyitems(items: list) -> None:  # noqa: ANN001
    """Run the longest test file first, so that in `make test` (two processes, files in collection order) the other
    process works through the rest meanwhile instead of one process finishing it alone at the end."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != FIRST)
