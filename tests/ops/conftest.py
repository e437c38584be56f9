import io
import json
import logging
import logging.config

import pytest
from django.conf import settings

from giftshop.logs import logging_config


@pytest.fixture
def json_log_lines():
    """Log through the JSON configuration (as production does) into a buffer; returns a reader of parsed lines."""
    logging.config.dictConfig(logging_config(log_format="json", level="INFO"))
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(buffer)

    def read() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield read
    logging.config.dictConfig(settings.LOGGING)
