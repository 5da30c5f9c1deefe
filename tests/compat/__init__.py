# A package, so that this directory's conftest.py is "compat.conftest" and
# never shadows tests/conftest.py, which other test modules import.
