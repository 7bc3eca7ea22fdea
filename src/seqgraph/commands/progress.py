"""Progress bars that stay readable in a terminal and in a log file."""

import math
import sys
import time

from tqdm import tqdm


class Progress(tqdm):
    """A tqdm bar on stderr. On a terminal it redraws one line; in a log file or a pipe it writes a line per
    update instead, at most every ``LOG_INTERVAL`` seconds and at the end, so that the log reads top to bottom."""

    LOG_INTERVAL = 30.0

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file", sys.stderr)
        self.to_log = not kwargs["file"].isatty()
        self._logged, self._closing = -math.inf, False  # set first: tqdm's __init__ already displays
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        if not self.to_log:
            return super().display(msg, pos)
        now = time.monotonic()
        due = now - self._logged >= self.LOG_INTERVAL or self._closing
        line = self.__str__() if msg is None else msg
        if line and due:
            self.fp.write(line + "\n")
            self.fp.flush()
            self._logged = now
        return True

    def close(self):
        self._closing = True  # the final state is always written
        super().close()
