"""Celery beat during a broker outage: one log line per schedule it could not send, not several KB."""

import io
import logging
import sys
import traceback

from celery.beat import SchedulingError
from kombu.exceptions import OperationalError

from giftshop.logs import BrokerOutageFilter


def _beat_logs(cause: Exception) -> str:
    """What the console handler writes for the record beat makes when sending a schedule raised `cause`
    (celery.beat.Scheduler.apply_entry: the stack in the message and the exception attached)."""
    try:
        try:
            raise cause
        except Exception as exc:  # noqa: BLE001 (beat catches everything here)
            raise SchedulingError(f"Couldn't apply scheduled task publish-due-jobs: {exc}")  # noqa: B904 (as beat)
    except SchedulingError as exc:
        record = logging.getLogger("celery.beat").makeRecord(
            "celery.beat",
            logging.ERROR,
            __file__,
            1,
            "Message Error: %s\n%s",
            (exc, traceback.format_stack()),
            sys.exc_info(),
        )
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(BrokerOutageFilter())
    handler.handle(record)
    return out.getvalue()


def test_a_schedule_beat_could_not_send_for_want_of_a_broker_is_one_line():
    written = _beat_logs(OperationalError("[Errno 111] Connection refused"))
    assert written.count("\n") == 1 and "Traceback" not in written
    assert written.startswith("ERROR celery.beat Message Error: Couldn't apply scheduled task publish-due-jobs")
    assert "Connection refused" in written and "the broker is unreachable" in written


def test_any_other_failure_keeps_its_traceback():
    written = _beat_logs(ValueError("a schedule's arguments no longer fit"))
    assert "Traceback" in written and "ValueError" in written
