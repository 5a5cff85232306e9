"""e2e suite settings: the ``slow`` marker (long forms, deselect with ``-m 'not slow'``)."""


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: long form of an e2e case (documented in "
                                       "tests/e2e/README.md)")
