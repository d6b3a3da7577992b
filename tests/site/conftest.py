import io
import json
import logging

import pytest

from credits_site.logs import ContextFilter, JsonFormatter


class JsonLog:
    """Every record of every logger, at DEBUG, written by the production formatter and filter."""

    def __init__(self):
        self.stream = io.StringIO()

    @property
    def text(self):
        return self.stream.getvalue()

    def lines(self):
        return [json.loads(line) for line in self.text.splitlines()]

    def of(self, logger):
        return [line for line in self.lines() if line["logger"] == logger]


@pytest.fixture
def json_log():
    log = JsonLog()
    handler = logging.StreamHandler(log.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    for lg in loggers:
        # Nothing filtered by level, nothing kept from the root by a logger of its own.
        lg.setLevel(logging.NOTSET)
        lg.propagate = True
        lg.disabled = False
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield log
    finally:
        root.removeHandler(handler)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled
