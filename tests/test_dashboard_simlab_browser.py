"""The simulation lab in a real headless Chromium: pick a scenario, edit a parameter, run it as a
background job, watch the progress bar reach the end and the comparison chart appear."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from dashboards.app import create_app
from dashboards.jobs import read_json
from dashboards.pages.simlab import make_page
from tests.browser import text, wait_until
from tests.test_dashboard_simlab import TINY_SCENARIO
from twin.config import load_complex

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
WAIT_S = 60  # upper bound for a condition to become true, not a timing assertion


def _js(driver, script: str, *args):  # type: ignore[no-untyped-def]
    return driver.execute_script(script, *args)


def test_pick_a_scenario_run_it_and_see_the_comparison(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "tiny-check.yaml").write_text(TINY_SCENARIO)
    jobs = tmp_path / "jobs"
    app = create_app(
        load_complex("tiny"),
        "sqlite://" + str(tmp_path / "history.db"),
        pages=[make_page(jobs_dir=jobs, scenarios_dir=scenarios)],
    )
    dash_duo.start_server(app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/simulation")
    dash_duo.wait_for_element("#simlab-scenario", timeout=WAIT_S)
    wait_until(driver, lambda d: "Predictive maintenance" in text(d, "#simlab-description"), "the default", WAIT_S)

    dash_duo.select_dcc_dropdown("#simlab-scenario", value="tiny-check")
    wait_until(driver, lambda d: "tiny check" in text(d, "#simlab-description"), "the picked scenario", WAIT_S)
    param = dash_duo.wait_for_element("#simlab-params input", timeout=WAIT_S)
    assert "line.alpha-l1.machines.mttr_h" in text(driver, "#simlab-params")
    param.send_keys(Keys.CONTROL, "a")
    param.send_keys("0.4")
    reps = dash_duo.find_element("#simlab-replications")
    wait_until(driver, lambda d: reps.get_attribute("value") == "2", "the scenario's run defaults", WAIT_S)
    reps.send_keys(Keys.CONTROL, "a")
    reps.send_keys("3")

    dash_duo.find_element("#simlab-run").click()
    wait_until(driver, lambda d: "started: 3 replications x 2 scenarios" in text(d, "#simlab-message"), "start", WAIT_S)
    wait_until(driver, lambda d: text(d, "#simlab-progress-text").startswith(("running", "done")), "progress", WAIT_S)
    wait_until(driver, lambda d: "done" in text(d, "#simlab-progress-text"), "the job to finish", WAIT_S)
    value, maximum = _js(
        driver, "const p = document.querySelector('#simlab-progress'); return [p.value, p.max];"
    )
    assert value == maximum == 6  # 3 replications x (baseline + 1 scenario)
    traces = wait_until(
        driver, lambda d: _js(
            d,
            "const g = document.querySelector('#simlab-chart .js-plotly-plot');"
            "return g && g.data && g.data.length ? g.data.map(t => [t.name, t.error_y.array[0]]) : null;",
        ),
        "the comparison chart",
        WAIT_S,
    )
    assert {name for name, _ in traces} == {"baseline", "shared"}
    assert all(hw is not None for _, hw in traces)  # every bar carries its CI
    wait_until(driver, lambda d: "complex.oee" in text(d, "#simlab-table"), "the difference table", WAIT_S)
    # the edited parameter reached the job
    (job,) = [d for d in jobs.iterdir() if d.is_dir()]
    assert read_json(job / "spec.json")["params"]["changed"] == {"0.1.scale": 0.4}

    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(IMG / "dashboard-simulation.png"))
    assert dash_duo.get_logs() == []
