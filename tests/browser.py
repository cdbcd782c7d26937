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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion

_REDRAWN = (StaleElementReferenceException, NoSuchElementException, StopIteration)


def wait_until(driver: Any, condition: Callable[[Any], T], what: str, timeout: float = WAIT_S) -> T:
    """The first truthy value of ``condition(driver)``; a condition that met an element being
    redrawn is tried again. Fails with ``waiting for <what>`` after ``timeout`` seconds."""
    return WebDriverWait(driver, timeout, ignored_exceptions=_REDRAWN).until(condition, message=f"waiting for {what}")


def text(driver: Any, css: str) -> str:
    """The rendered text of the first element matching ``css`` now; '' when there is none."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css
    ) or ""


def click_point(driver: Any, graph_css: str, customdata: str) -> bool:
    """Click the marker whose datum is ``customdata`` in the Plotly graph at ``graph_css`` with a
    real pointer (Plotly ignores synthetic clicks). Raises StaleElementReferenceException or
    StopIteration while the graph redraws or lacks the marker: call it in :func:`wait_until`."""
    point = next(
        p
        for p in driver.find_elements("css selector", f"{graph_css} .points path.point")
        if driver.execute_script("const d = arguments[0].__data__; return d && d.data;", p) == customdata
    )
    ActionChains(driver).move_to_element(point).click().perform()
    return True


def texts(driver: Any, css: str) -> list[str]:
    """The rendered text of every element matching ``css`` now, read in one script."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", css
    ) or []


def grown_margins(driver: Any, graph_css: str) -> dict[str, list[float]] | None:
    """Sides where Plotly drew the graph at ``graph_css`` with a wider margin than its figure
    asks for, as ``side: [asked, drawn]``. Plotly's ``automargin`` grows a margin too small for
    the labels or legend only after drawing the figure, and then draws it all again; ``{}``
    means the figure was drawn once. None while the graph is not drawn yet."""
    return driver.execute_script(
        """const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd._fullLayout || !gd._fullLayout._size) return null;
        const asked = gd._fullLayout.margin, drawn = gd._fullLayout._size, out = {};
        for (const s of ['l', 'r', 't', 'b']) if (drawn[s] > asked[s]) out[s] = [asked[s], drawn[s]];
        return out;""",
        graph_css,
    )
