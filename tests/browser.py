"""Helpers for the browser tests: waits that survive Dash redraws, and reads done in one script.

Dash replaces elements on every refresh (the overview polls every 1-2 s). A reference found by
Selenium and read a moment later can then point at a node that is gone
(StaleElementReferenceException). These helpers never keep a reference across two calls: they find
and read inside one ``execute_script``, and waits retry conditions that met a stale element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion

_REDRAWN = (StaleElementReferenceException, NoSuchElementException)


def wait_until(driver: Any, condition: Callable[[Any], T], what: str, timeout: float = WAIT_S) -> T:
    """The first truthy value of ``condition(driver)``; a condition that met an element being
    redrawn is tried again. Fails with ``waiting for <what>`` after ``timeout`` seconds."""
    return WebDriverWait(driver, timeout, ignored_exceptions=_REDRAWN).until(condition, message=f"waiting for {what}")


def text(driver: Any, css: str) -> str:
    """The rendered text of the first element matching ``css`` now; '' when there is none."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css
    ) or ""
