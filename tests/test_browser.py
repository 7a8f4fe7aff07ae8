"""The report and the UI in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by Selenium. Clicks sort and filter, the compare view shows what differs and the code diff,
curves are SVG paths, markup from users stays text, and the browser logs no error.

Screenshots go to $FLEXGIT_SCREENSHOTS (`make screenshots` sets docs/img), else a temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import flexgit as cli
from reportproject import XSS, XSS_IN, report_project
from test_ui import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,860", "--hide-scrollbars"]
WAIT_S = 60  # for the page to show something: generous on a shared machine; no test measures speed

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                                reason="chromium and chromium-driver are not installed (make system-deps)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=DRIVER)  # never selenium's own download of a driver
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()  # stops the browser and then the driver process selenium started (by its pid)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FLEXGIT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def showcase(tmp_path_factory) -> tuple[Path, Path]:
    repo = report_project(tmp_path_factory.mktemp("showcase") / "project", hostile=False)
    out = repo.parent / "report.html"
    assert cli(repo, "report", "-o", str(out), "--title", "flexgit runs of project").code == 0
    return repo, out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    repo = report_project(tmp_path_factory.mktemp("hostile") / "project")
    out = repo.parent / "report.html"
    assert cli(repo, "report", "-o", str(out), "--title", XSS).code == 0
    return repo, out


def open_page(driver, url: str) -> None:
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(url)
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return window.flexgitReady !== undefined"))


def go(driver, hash_: str) -> None:
    """Go to a view, and wait until the page has drawn it (on the `hashchange` that follows)."""
    driver.execute_script("window.viewBefore = document.querySelector('main'); location.hash = arguments[0]", hash_)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return document.querySelector('main') !== window.viewBefore"))


def names(driver) -> list[str]:
    return [row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text
            for row in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]


def column(driver, name: str) -> list[str]:
    headers = [th.get_attribute("data-col") for th in driver.find_elements(By.CSS_SELECTOR, "#runs thead th")]
    at = headers.index(name) + 1
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, f"#runs tbody td:nth-child({at})")]


def ids_by_name(driver) -> dict[str, str]:
    return {row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text: row.get_attribute("data-id")
            for row in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")}


def settled(driver, read):
    """What `read` finds on a live page, read again when a refresh replaced the page under it."""
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: (read(d),))[0]


def drawn(driver, element_id: str):
    """The element `element_id` once the page has drawn it: a link changes the location's hash, and
    the page draws the view on the `hashchange` event that follows, not before `click` returns."""
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_elements(By.ID, element_id))[0]


def assert_no_console_errors(driver) -> None:
    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def assert_no_alert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (asking is the check)


def test_the_table_sorts_and_filters_on_click(browser, showcase, shots):
    _, report = showcase
    open_page(browser, report.as_uri())
    assert len(names(browser)) == 7
    assert browser.find_elements(By.CSS_SELECTOR, 'th[data-col="params.model"]') == []  # the same everywhere
    browser.save_screenshot(str(shots / "report-table.png"))
    browser.find_element(By.CSS_SELECTOR, 'th[data-col="metrics.acc"]').click()
    accs = [float(value) for value in column(browser, "metrics.acc")]
    assert accs == sorted(accs) and len(set(accs)) > 2
    browser.find_element(By.CSS_SELECTOR, 'th[data-col="metrics.acc"]').click()
    assert [float(value) for value in column(browser, "metrics.acc")] == sorted(accs, reverse=True)
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-col="metrics.acc"]').get_attribute("aria-sort") == \
        "descending"
    browser.find_element(By.ID, "filter").send_keys("lr>0.2 w64")
    assert sorted(names(browser)) == ["lr0.3-w64", "lr1-w64"]
    assert browser.find_element(By.ID, "count").text == "2 of 7 runs"
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys("wider")
    assert names(browser) == ["wider"]
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")  # clear() fires no input event: type to refresh
    browser.find_element(By.ID, "choose-columns").click()
    browser.find_element(By.ID, "show-constant").click()
    assert browser.find_elements(By.CSS_SELECTOR, 'th[data-col="params.model"]')
    browser.find_element(By.CSS_SELECTOR, '#column-chooser input[data-col="message"]').click()
    assert browser.find_elements(By.CSS_SELECTOR, 'th[data-col="message"]') == []
    assert_no_console_errors(browser)


def test_compare_shows_what_differs_and_the_code_diff(browser, showcase, shots):
    _, report = showcase
    open_page(browser, report.as_uri())
    for name in ("lr0.3-w64", "wider"):
        browser.find_element(By.CSS_SELECTOR, f'input[aria-label="select {name}"]').click()
    browser.find_element(By.ID, "compare").click()
    keys = [row.get_attribute("data-key") for row in browser.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")]
    assert {"params.width", "metrics.acc", "group", "meta.history_since"} <= set(keys)
    assert "params.lr" not in keys and "params.model" not in keys  # the same in both: hidden
    delta = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="metrics.acc"] .delta').text
    assert delta.startswith(("+", "-"))
    diff = browser.find_element(By.CSS_SELECTOR, '#code-diff .diff[data-path="train.py"]')
    assert [line.text for line in diff.find_elements(By.CSS_SELECTOR, ".del")] == \
        ["-     loss = 1.0 / (1 + speed * step)"]
    assert [line.text for line in diff.find_elements(By.CSS_SELECTOR, ".add")] == \
        ["+     loss = 1.0 / (1 + 2 * speed * step)"]
    params = browser.find_element(By.CSS_SELECTOR, '#code-diff .diff[data-path="params.toml"]')
    assert {line.text for line in params.find_elements(By.CSS_SELECTOR, ".add")} == {"+ width = 128"}
    browser.find_element(By.ID, "all-keys").click()
    keys = [row.get_attribute("data-key") for row in browser.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")]
    assert "params.lr" in keys
    browser.find_element(By.ID, "all-keys").click()
    browser.save_screenshot(str(shots / "report-compare.png"))
    assert_no_console_errors(browser)


def test_curves_draw_one_series_per_run(browser, showcase, shots):
    _, report = showcase
    open_page(browser, report.as_uri())
    ids = ids_by_name(browser)
    chosen = ["lr0.1-w64", "lr0.3-w64", "lr1-w64", "wider"]
    go(browser, "#/curves/" + ",".join(ids[name] for name in chosen))
    charts = {chart.get_attribute("data-title"): chart for chart in browser.find_elements(By.CSS_SELECTOR, ".chart")}
    assert set(charts) == {"acc", "loss"}
    series = charts["loss"].find_elements(By.CSS_SELECTOR, "path.series")
    assert [path.get_attribute("data-run") for path in series] == chosen
    assert all(path.get_attribute("d").count("L") == 39 for path in series)  # 40 steps: a move and 39 lines
    browser.save_screenshot(str(shots / "report-curves.png"))
    browser.find_element(By.CSS_SELECTOR, 'input[data-metric="acc"]').click()  # only loss now
    assert [chart.get_attribute("data-title") for chart in browser.find_elements(By.CSS_SELECTOR, ".chart")] == \
        ["loss"]
    go(browser, "#/scatter")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#charts circle.point")) == 7
    browser.find_element(By.ID, "log-x").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#charts circle.point")) == 7
    browser.save_screenshot(str(shots / "report-scatter.png"))
    assert_no_console_errors(browser)


def test_a_run_has_its_page(browser, showcase, shots):
    _, report = showcase
    open_page(browser, report.as_uri())
    browser.find_element(By.LINK_TEXT, "wider").click()
    assert drawn(browser, "run-name").text == "wider"
    assert "trained: lr 0.3 width 128" in browser.find_element(By.ID, "run-log").text
    assert [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#run-changes li")] == \
        ["M params.toml", "M train.py"]
    meta = browser.find_element(By.ID, "run-meta").text
    assert "exit_code 0" in meta and "python" in meta and "env." not in meta
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#run-outputs tr")]
    lfs = " git-lfs" if shutil.which("git-lfs") else ""
    plot = len(f"final loss {1.0 / (1 + 2 * (0.3 * 128 / 64) * 39)}\n")  # the wider run: lr 0.3, width 128
    assert rows == [f"output model.txt 12.5 KiB{lfs}", f"output plots/loss.txt {plot} bytes",
                    "checkpoint 20/ckpt.txt 19 bytes"]
    assert [row.get_attribute("data-kind") for row in browser.find_elements(By.CSS_SELECTOR, "#run-outputs tr")] == \
        ["outputs", "outputs", "checkpoints"]
    env = browser.find_element(By.ID, "run-env").text
    assert "python" in env and "cpu" in env  # the env.* summary
    packages = browser.find_element(By.ID, "run-packages")
    browser.execute_script("arguments[0].open = true", packages)  # shown in the screenshot
    assert "pygit2==" in packages.text and "click==" in packages.text
    assert "environment.txt" in browser.find_element(By.ID, "run-files").text
    assert "twice the step size" in browser.find_element(By.ID, "run-notes").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#charts path.series")) == 2  # acc and loss of this run
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shots / "report-run.png"))
    browser.execute_script("document.getElementById('run-outputs').previousElementSibling.scrollIntoView()")
    browser.save_screenshot(str(shots / "report-run-files.png"))
    assert_no_console_errors(browser)


SAMPLED = """\
import time, flexgit
held = []
for step in range(10):
    held.append(bytearray(b"x" * (8 << 20)))  # 8 MiB more each step: a memory curve that climbs
    flexgit.log(step=step, loss=1 / (step + 1))
    time.sleep(0.2)
"""


def test_system_metrics_are_drawn_against_time(browser, tmp_path, shots):
    """`flexgit run` samples sys.* over time, without steps: the run page draws them against seconds, apart
    from the step curves, and so does the curves view."""
    import sys

    from conftest import git, make_repo

    repo = make_repo(tmp_path / "project")
    (repo / ".flexgit.toml").write_text("system_metrics = 0.2\n")
    (repo / "train.py").write_text(SAMPLED)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "sampled training")
    done = cli(repo, "run", "-q", "--name", "sampled", "--", sys.executable, "train.py")
    assert done.code == 0, done
    out = repo.parent / "report.html"
    assert cli(repo, "report", "-o", str(out)).code == 0
    open_page(browser, out.as_uri())
    browser.find_element(By.LINK_TEXT, "sampled").click()
    system = drawn(browser, "system-charts")
    titles = [chart.get_attribute("data-title") for chart in system.find_elements(By.CSS_SELECTOR, ".chart")]
    assert {"sys.cpu", "sys.rss"} <= set(titles) and all(title.startswith("sys.") for title in titles)
    rss = system.find_element(By.CSS_SELECTOR, '.chart[data-title="sys.rss"] path.series')
    assert rss.get_attribute("d").count("L") >= 1  # two points or more: samples every 0.2 s for 2 s
    assert "no values" not in system.text and "seconds since the first logged line" in system.text
    steps = browser.find_elements(By.CSS_SELECTOR, "#charts .chart")
    assert [chart.get_attribute("data-title") for chart in steps] == ["loss"]  # by step, as before
    assert steps[0].find_element(By.CSS_SELECTOR, "path.series").get_attribute("d").count("L") == 9
    browser.execute_script("var charts = document.getElementById('system-charts');"
                           "charts.previousElementSibling.previousElementSibling.scrollIntoView();"
                           "window.scrollBy(0, -48)")  # below the page's header
    browser.save_screenshot(str(shots / "report-system.png"))
    run_id = browser.current_url.rsplit("/", 1)[-1]
    go(browser, f"#/curves/{run_id}")
    assert [chart.get_attribute("data-title") for chart in browser.find_elements(By.CSS_SELECTOR, "#charts .chart")] \
        == ["loss"]  # the step metrics are chosen first
    browser.find_element(By.CSS_SELECTOR, 'input[data-metric="sys.rss"]').click()
    rss = browser.find_element(By.CSS_SELECTOR, '#system-charts .chart[data-title="sys.rss"] path.series')
    assert rss.get_attribute("d").count("L") >= 1
    assert_no_console_errors(browser)


def test_markup_from_users_stays_text(browser, hostile):
    _, report = hostile
    open_page(browser, report.as_uri())
    ids = ids_by_name(browser)
    visited = ["#/", f"#/run/{ids['hostile']}", f"#/run/{ids['lr0.1']}", f"#/compare/{ids['lr0.1']},{ids['hostile']}",
               f"#/curves/{ids['lr0.1']}", "#/scatter"]
    shown = ""
    for hash_ in visited:
        go(browser, hash_)
        shown += browser.find_element(By.TAG_NAME, "body").text + "\n"
        assert browser.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
        assert browser.execute_script("return document.querySelectorAll('script:not(#flexgit-data)').length") == 0
        assert_no_alert(browser)
    assert browser.title == XSS
    for place in ("message", "file", "log", "note", "output"):
        assert XSS_IN[place] in shown, place
    go(browser, "#/")
    browser.find_element(By.ID, "choose-columns").click()
    browser.find_element(By.ID, "show-constant").click()
    text = browser.find_element(By.TAG_NAME, "body").text
    for place in ("param", "param-key", "metric-key"):
        assert XSS_IN[place].replace("params.", "") in text, place
    assert_no_alert(browser)
    assert_no_console_errors(browser)


def test_a_run_named_with_markup_is_inert(browser, tmp_path):
    """Names are checked when written and read, so this page is built by hand: the page must not depend on it."""
    from flexgit.storage.runcontents import Snapshots
    from flexgit.view.query import Table
    from flexgit.view.report import page, payload

    table = Table(columns=("name", "id", "date", "message", "params.lr", "metrics.acc"),
                  rows=[{"name": XSS, "id": "0123456789", "date": "", "message": XSS, "params.lr": 0.1,
                         "metrics.acc": float("nan")},
                        {"name": "plain", "id": "abcdefabcd", "date": "", "message": "", "params.lr": 0.2,
                         "metrics.acc": 0.5}])
    out = tmp_path / "named.html"
    out.write_bytes(page(payload(table, {}, Snapshots(), XSS, "experiments", "now"), XSS))
    assert "<img" not in out.read_text()
    open_page(browser, out.as_uri())
    assert names(browser) == [XSS, "plain"]
    assert column(browser, "metrics.acc") == ["nan", "0.5"]
    browser.find_element(By.LINK_TEXT, XSS).click()
    assert drawn(browser, "run-name").text == XSS
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert_no_alert(browser)
    assert_no_console_errors(browser)


def test_the_ui_shows_new_runs_as_they_are_recorded(browser, showcase, shots, tmp_path):
    repo = tmp_path / "project"
    shutil.copytree(showcase[0], repo, symlinks=True)  # the others' runs stay as they are
    with serving(repo) as server:
        open_page(browser, server.url)
        assert len(names(browser)) == 7
        assert browser.find_element(By.ID, "info").text.startswith("live · branch experiments · 7 runs")
        loaded = browser.execute_script("return document.documentElement.getAttribute('data-ready')")
        done = cli(repo, "record", "--name", "recorded-later", "-p", "lr=0.05", "-p", "width=64", "-m", "acc=0.97")
        assert done.code == 0, done
        WebDriverWait(browser, WAIT_S).until(
            lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") != loaded)
        assert "recorded-later" in names(browser)
        browser.find_element(By.CSS_SELECTOR, 'th[data-col="metrics.acc"]').click()
        browser.save_screenshot(str(shots / "ui-live.png"))
        assert_no_console_errors(browser)


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """Runs whose values differ the ways `flexgit diff` tells apart (1 and 1.0, 1 and true, NaN and NaN, a
    missing key), with environments from other machines (written below write_run, which captures this
    interpreter's), and one recorded before environments were."""
    from conftest import make_repo
    from flexgit._context import branch_ref, open_store
    from flexgit.storage.run import Run

    repo = make_repo(tmp_path_factory.mktemp("varied") / "project")
    store = open_store(repo)
    tree = store.repo.commit(store.repo.head_commit())[0]
    nan = float("nan")
    runs = {"a": ({"lr": 1, "flag": True, "depth": 4, "seed": 1.0}, {"acc": 0.5, "loss": nan, "f1": 0.25},
                  {"env.python": "3.11", "env.cuda": "12.1", "epochs": 3},
                  "numpy==1.26.4\ntorch==2.2.0\nPyYAML==6.0\n"),
            "b": ({"lr": 1.0, "flag": 1, "depth": 4, "seed": 1.0}, {"acc": 0.52, "loss": nan},
                  {"env.python": "3.12", "env.cuda": "12.1", "epochs": 3.0},
                  "numpy==2.0.0\npyyaml==6.0\nscipy==1.13.0\n"),
            "c": ({"lr": 0.001, "flag": True, "depth": 8, "seed": 2}, {"acc": 1e-7, "loss": 2.5}, {}, None)}
    for name, (params, metrics, meta, environment) in runs.items():
        files = {"environment.txt": store.repo.write_blob(environment.encode())} if environment else {}
        run = Run(name=name, params=params, metrics=metrics, meta=meta, date="2026-01-01T00:00:00Z",
                  time=f"2026-01-01T00:00:0{len(name)}.000000Z")
        store.write([run], [tree], branch_ref(None), [files])
    out = repo.parent / "varied.html"
    assert cli(repo, "report", "-o", str(out)).code == 0
    return repo, out, {name: store.find(name).short_id for name in runs}


@pytest.mark.parametrize("names", [("a", "b"), ("b", "c"), ("a", "c"), ("a", "b", "c")])
def test_compare_shows_what_flexgit_diff_shows(browser, varied, names):
    """The page compares in the browser; `flexgit diff` (view/compare.py) in Python: the same keys differ,
    with the same change from the first run to the second."""
    from flexgit._context import open_store
    from flexgit.storage.snapshots import comparable
    from flexgit.view.compare import compare

    repo, out, ids = varied
    store = open_store(repo)
    expected = compare([comparable(store.repo, store.find(name)) for name in names])
    open_page(browser, out.as_uri())
    go(browser, "#/compare/" + ",".join(ids[name] for name in names))
    shown = {row.get_attribute("data-key"): [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
             for row in browser.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")}
    wanted = {(key.key if key.section == "run" else f"{key.section}.{key.key}"): key for key in expected.keys}
    assert set(shown) == set(wanted)
    if names == ("a", "b"):  # 1 is not 1.0 nor true; NaN is NaN; PyYAML is pyyaml
        assert {"params.lr", "params.flag", "meta.epochs", "packages.numpy", "packages.torch", "env.python",
                "metrics.f1"} <= set(shown)
        assert not {"metrics.loss", "params.depth", "params.seed", "packages.pyyaml", "env.cuda"} & set(shown)
        assert shown["packages.torch"] == ["2.2.0", "", "removed"] and shown["metrics.acc"][-1] == "+0.02 (+4.0%)"
    if len(names) == 2:
        assert {key: cells[-1] for key, cells in shown.items()} == {key: found.change for key, found in wanted.items()}
    assert_no_console_errors(browser)


SLOW = '''\
import os, time, flexgit
step = 0
while not os.path.exists(STOP) and step < 3000:  # steps until the test says stop (10 minutes at most)
    flexgit.log(step=step, loss=1 / (step + 1))
    step += 1
    time.sleep(0.2)
'''


def test_the_ui_shows_a_running_run_its_curve_growing_until_it_is_recorded(browser, tmp_path, shots):
    import subprocess
    import sys

    from conftest import git, make_repo
    from reportproject import python_on_path

    repo = make_repo(tmp_path / "project")
    stop = tmp_path / "stop"
    (repo / "slow.py").write_text(SLOW.replace("STOP", repr(str(stop))))
    (repo / ".flexgit.toml").write_text("system_metrics = 0.2\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "slow training")
    assert cli(repo, "record", "--name", "earlier", "-m", "loss=0.9").code == 0
    with serving(repo) as server:
        open_page(browser, server.url)
        assert names(browser) == ["earlier"]
        command = [sys.executable, "-m", "flexgit", "run", "-q", "--name", "slow", "--", "python", "slow.py"]
        process = subprocess.Popen(command, cwd=repo, env={**os.environ, **python_on_path(tmp_path / "bin")},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            WebDriverWait(browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: "slow" in names(d))
            statuses = settled(browser, lambda d: dict(zip(names(d), column(d, "status"), strict=True)))
            assert statuses["slow"] == "running"
            live_id = settled(browser, ids_by_name)["slow"]
            assert live_id.startswith("live")
            go(browser, f"#/run/{live_id}")

            def points(driver, charts: str = "#charts", title: str = "loss") -> int:  # read afresh after each refresh
                found = driver.find_elements(By.CSS_SELECTOR, f'{charts} .chart[data-title="{title}"] path.series')
                return found[0].get_attribute("d").count("L") + 1 if found else 0

            growing = WebDriverWait(browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
            growing.until(lambda d: points(d) >= 2)
            seen = settled(browser, points)
            growing.until(lambda d: points(d) > seen)  # it grows while the run logs
            growing.until(lambda d: points(d, "#system-charts", "sys.rss") >= 2)  # sampled as it runs
            assert settled(browser, lambda d: d.find_element(By.ID, "run-live").text).startswith(
                "Not recorded yet (running)")
            browser.save_screenshot(str(shots / "ui-running.png"))
            stop.touch()
            assert process.wait(timeout=WAIT_S) == 0
        finally:
            stop.touch()
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
        go(browser, "#/")
        WebDriverWait(browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: "slow" in names(d) and not any(i.startswith("live") for i in ids_by_name(d).values()))
        statuses = settled(browser, lambda d: dict(zip(names(d), column(d, "status"), strict=True)))
        assert statuses["slow"] == "ok"
        go(browser, f"#/run/{settled(browser, ids_by_name)['slow']}")
        assert settled(browser, lambda d: d.find_elements(By.ID, "run-live")) == []
        assert settled(browser, points) > seen  # the recorded curve, all of it
        assert settled(browser, lambda d: points(d, "#system-charts", "sys.rss")) >= 2
        assert_no_console_errors(browser)
