import pytest

# The helpers assert too: rewrite them so a failure shows the values it compared.
pytest.register_assert_rewrite("tests.concurrency.races", "tests.concurrency.scenarios")
