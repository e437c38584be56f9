import logging

import pytest

from tests.sms.aliyun_double import AliyunSmsDouble
from tests.sms.tencent_double import TencentSmsDouble


def _use(settings, double):
    for name, value in double.settings().items():
        setattr(settings, name, value)
    settings.SITE_URL = "https://gifts.example.com"


@pytest.fixture
def tencent(settings):
    double = TencentSmsDouble().start()
    _use(settings, double)
    yield double
    double.stop()


@pytest.fixture
def aliyun(settings):
    double = AliyunSmsDouble().start()
    _use(settings, double)
    yield double
    double.stop()


class _Everything(logging.Handler):
    """Every record that reaches the root logger, formatted as a log line would be."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {text}")


@pytest.fixture
def all_logs():
    """Root at DEBUG with a handler that keeps every line: what LOG_LEVEL=DEBUG would write."""
    root = logging.getLogger()
    handler, level = _Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)
