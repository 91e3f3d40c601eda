import json

import pytest

from circus_fakes import REPLIES


@pytest.fixture
def replies():
    return json.loads(json.dumps(REPLIES))
