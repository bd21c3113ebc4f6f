"""Headless Chromium for driving the explorer's page: which binary, and with which flags.

For the browser tests, the explorer benchmark and the README screenshot script, which all
launch the same browser the same way (through Playwright). Not used by the explorer itself.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ENV_VAR = "SAPDI_CHROMIUM"
# On a machine with no network, Chromium's own background connections (updates, sync,
# safe browsing) would each be refused or hang: these flags keep it to the page it is given.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> Path:
    """The Chromium to drive: $SAPDI_CHROMIUM, else ``chromium`` or ``chromium-browser`` on
    PATH, else Debian's /usr/bin/chromium (which may not exist: callers check).

    >>> chromium_path()  # without SAPDI_CHROMIUM: /usr/bin/chromium on Debian
    PosixPath('/...chromium...')
    """
    return Path(
        os.environ.get(CHROMIUM_ENV_VAR)
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
        or "/usr/bin/chromium"
    )
