"""The dashboard in a real headless Chromium against `frs local --replay` (started here as a subprocess).

Debian's `chromium` + `chromium-driver` driven by selenium. Under CI=true a missing browser or
driver fails the module; elsewhere it is skipped with the reason. Expected numbers are computed
here from the API's own payload (the arithmetic is in the comments), never read back from the page.
Set FRS_DASHBOARD_SHOTS=<dir> to also write the screenshots README shows (docs/dashboard-*.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from frs_local.servers import free_port
from tests.conftest import IN_CI
from tests.e2e.test_local_stack import READY_TIMEOUT, Stack, with_suppress

WAIT = 45.0          # generous: a loaded 2-core CI box, a 3 s collection interval
SHOTS = os.environ.get("FRS_DASHBOARD_SHOTS")


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(p)), None)
    try:
        import selenium  # noqa: F401
    except ImportError:
        driver = None
    if not chromium or not driver:
        why = f"chromium={chromium} chromedriver={driver} (apt-get install chromium chromium-driver; pip install selenium)"
        if IN_CI:
            pytest.fail(f"browser missing under CI=true: {why}", pytrace=False)
        pytest.skip(f"browser not available: {why}")
    return chromium, driver


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Stack, str, str]]:
    _browser_paths()   # fail/skip before starting a whole stack
    data_dir = Path(tempfile.mkdtemp(prefix="frs-dash-"))
    os.chmod(data_dir, 0o755)
    # the page is under test, not the venues: the five original ones keep the 2-core box's cycles short while
    # Chromium runs beside the stack (ten collectors made the live tables churn past the waits)
    before = os.environ.get("ENABLED_DEXES")
    os.environ["ENABLED_DEXES"] = "hyperliquid,lighter,paradex,grvt,edgex"
    try:
        st = Stack(data_dir, free_port())
    finally:
        if before is None:
            os.environ.pop("ENABLED_DEXES", None)
        else:
            os.environ["ENABLED_DEXES"] = before
    try:
        base = st.wait_for_line(r"frs local ready: (http://\S+)", READY_TIMEOUT).group(1)
        replay = re.search(r"replay server\s+(http://\S+)", "\n".join(st.lines)).group(1)
        st.wait_for_line(r"#1 \S+ +long", WAIT)        # one analysis cycle done: opportunities exist
        yield st, base, replay
    finally:
        st.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(stack: tuple[Stack, str, str]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_paths()
    profile = tempfile.mkdtemp(prefix="frs-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(driver_path), options=options)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        with_suppress(drv.quit)
        shutil.rmtree(profile, ignore_errors=True)


def wait(what: str, fn: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
        except Exception as exc:   # a stale element mid re-render: try again
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(0.2)


def shot(drv: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(SHOTS) / f"dashboard-{name}.png"))


def rows(drv: Any) -> list[dict[str, Any]]:
    """The opportunity rows as the page shows them (id, source, cell texts)."""
    return drv.execute_script("""return Array.from(document.querySelectorAll('#opps tbody tr:not(.closing)')).map(
        tr => ({id: tr.dataset.id, src: tr.dataset.src, cells: Array.from(tr.cells).map(td => td.textContent)}));""")


RECORD_ROW_CLASSES = """window.seenRowClasses = new Set();
new MutationObserver(ms => ms.forEach(m => m.target.tagName === 'TR' && m.target.classList.forEach(c => seenRowClasses.add(c))))
  .observe(document.querySelector('#opps tbody'), {attributes: true, attributeFilter: ['class'], subtree: true});"""


def seen_row_classes(drv: Any) -> set[str]:
    return set(drv.execute_script("return Array.from(window.seenRowClasses)"))


def api(base: str, path: str) -> Any:
    r = httpx.get(base + "/api/v1" + path, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def pct_text(text: str) -> float:
    """'0.3084 %' -> 0.3084 (the number as displayed, in percent)."""
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?) %", text.strip())
    assert m, f"not a percent: {text!r}"
    return float(m.group(1))


# ---- the page itself ---------------------------------------------------------------------------
def test_page_is_one_small_self_contained_document(stack) -> None:
    _, base, _ = stack
    for path in ("/", "/dashboard"):
        r = httpx.get(base + path, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert len(r.content) < 150 * 1024, len(r.content)
        # no CDN, nothing fetched from elsewhere: no src/href pointing at another host
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", r.text), "external resource"
        assert "/*FRS_" not in r.text          # every slot was filled (style, script, config)


def test_table_fills_and_then_updates_from_the_websocket(stack, browser) -> None:
    _, base, _ = stack
    browser.get(base + "/")
    first = wait("opportunity rows", lambda: rows(browser))
    assert all(r["id"].count(":") == 2 for r in first)
    # rows updated in place by opportunity_update frames are marked data-src=ws
    wait("a row updated from the WebSocket", lambda: any(r["src"] == "ws" for r in rows(browser)))
    stats = browser.execute_script("return window.frsStats")
    assert stats["wsOppEvents"] > 0 and stats["wsFrames"] >= stats["wsOppEvents"]
    assert "live" in browser.find_element("id", "live").text
    shot(browser, "opportunities")


def test_a_filter_changes_the_rows_and_lands_in_the_url(stack, browser) -> None:
    _, base, _ = stack
    browser.get(base + "/")
    wait("rows", lambda: rows(browser))
    unfiltered = {r["id"] for r in rows(browser)}
    browser.execute_script(RECORD_ROW_CLASSES)
    for dex in ("lighter", "paradex"):   # the venue checkboxes come from /dexes
        wait(f"the {dex} checkbox", lambda d=dex: browser.find_element("css selector", f"#inc-dexes input[value={d}]")).click()
    wait("include_dexes in the URL", lambda: "include_dexes=lighter%2Cparadex" in browser.current_url
         or "include_dexes=lighter,paradex" in browser.current_url)

    def same_as_rest() -> bool:
        # the REST API with the same filters is the reference (both legs among lighter, paradex)
        want = {o["id"] for o in api(base, "/opportunities?include_dexes=lighter,paradex&limit=100")["opportunities"]}
        got = {r["id"] for r in rows(browser)}
        return bool(got) and got == want
    wait("the filtered rows to equal the REST API's", same_as_rest)
    filtered = rows(browser)
    assert all(set(r["id"].split(":")[1:]) <= {"lighter", "paradex"} for r in filtered)
    assert "closing" in seen_row_classes(browser)      # rows the filter removed faded out, not vanished
    # fewer than before: pairs with a leg elsewhere are gone (compared with the REST count, the set drifts)
    assert len(filtered) < max(len(unfiltered), api(base, "/opportunities?limit=100")["total_count"])

    # the URL is the bookmark: a fresh load shows the same filter
    browser.get(browser.current_url)
    wait("filtered rows after reload", lambda: rows(browser) and all(
        set(r["id"].split(":")[1:]) <= {"lighter", "paradex"} for r in rows(browser)))
    wait("the lighter box checked", lambda: browser.find_element("css selector", "#inc-dexes input[value=lighter]")
         .is_selected())


def test_empty_state_says_what_hides_the_rows_and_can_show_them(stack, browser) -> None:
    _, base, _ = stack
    browser.get(base + "/?min_divergence=0.5")
    box = wait("the empty state", lambda: (e := browser.find_element("id", "opps-empty")).is_displayed() and e)
    # divergence is a fraction per 8 h; 0.5 (50 % / 8 h) hides everything the REST API lists at min_divergence=0
    hidden = api(base, "/opportunities?min_divergence=0&limit=1")["total_count"]
    assert hidden > 0
    text = wait("the hidden count", lambda: "hidden by min divergence" in box.text and box.text)
    n = int(re.search(r"(\d+) opportunit(?:y|ies) hidden by min divergence 0\.5", text).group(1))
    assert abs(n - hidden) <= 2, (n, hidden)     # the set may move by a pair between the two reads
    assert not rows(browser)
    browser.execute_script(RECORD_ROW_CLASSES)
    box.find_element("css selector", "button[data-show=min_divergence]").click()
    wait("rows after 'show them'", lambda: rows(browser))
    wait("new rows flashing", lambda: "opened" in seen_row_classes(browser), timeout=10)
    assert "min_divergence=0" in browser.current_url


def test_a_row_opens_its_detail_with_both_legs(stack, browser) -> None:
    _, base, _ = stack
    browser.get(base + "/")
    wait("rows", lambda: rows(browser))
    from selenium.webdriver.common.keys import Keys

    # the id and the cell in one read (a live update re-renders the rows between two element reads), then the
    # row found again by its id, retried while a re-render makes it stale
    first = rows(browser)[0]
    row_id, long_rate_cell = first["id"], first["cells"][3]
    symbol, long_dex, short_dex = row_id.split(":")
    wait("Enter on the row", lambda: browser.find_element("css selector", f'#opps tbody tr[data-id="{row_id}"]')
         .send_keys(Keys.ENTER) or True)   # keyboard: Enter on the focused row
    detail = wait("the detail panel", lambda: (d := browser.find_element("id", "detail")).is_displayed() and d)
    text = detail.text
    assert f"Long leg: {long_dex}" in text and f"Short leg: {short_dex}" in text
    for label in ("funding interval", "next funding", "open interest", "volume 24 h", "bid/ask spread",
                  "break-even", "fees (round trip"):
        assert label in text, label
    assert f"open={row_id.replace(':', '%3A')}" in browser.current_url or f"open={row_id}" in browser.current_url
    # the long leg's 8 h rate in the detail is the row's "Long rate" cell (both read again together: a live
    # update may land between reading the row and opening its detail)
    def cell_in_detail() -> bool:
        row = browser.find_element("css selector", f'#opps tbody tr[data-id="{row_id}"]')
        return row.find_elements("tag name", "td")[3].text in browser.find_element("id", "detail").text
    assert long_rate_cell and wait("the row's long rate in the detail", cell_in_detail)
    # its 1 h rate is the venue's rate_1h (REST, same market), to display precision (5 decimals of a percent)
    m = api(base, f"/funding-rates/{long_dex}/{symbol}")
    shown = wait("rate / 1 h", lambda: re.search(r"rate / 1 h\s+(-?\d+\.\d+) %", detail.text))
    assert abs(float(shown.group(1)) - m["rate_1h"] * 100) < 0.0005   # drift between cycles is far below this
    shot(browser, "detail")
    browser.find_element("tag name", "body").send_keys(Keys.ESCAPE)
    wait("the detail to close", lambda: not browser.find_element("id", "detail").is_displayed())


def test_realized_returns_and_time_alive_show_beside_the_predicted_apy(stack, browser) -> None:
    _, base, _ = stack
    # the settlement pass (started beside the first cycle) stores markets one by one; the analysis picks new
    # settlements up within ~30 s of their storing: wait for an open opportunity with realized returns
    def realized_symbol() -> Any:
        found = [o for o in api(base, "/opportunities?limit=100&min_volume=0")["opportunities"]
                 if o.get("realized_24h") and o.get("alive_hours") is not None]
        return found and found[0]["symbol"]
    symbol = wait("an opportunity with realized returns (REST)", realized_symbol, timeout=3 * WAIT)
    browser.get(base + "/?symbol=" + symbol)     # the URL is the bookmark: that symbol's rows only
    wait("rows", lambda: rows(browser))
    heads = wait("the header row", lambda: browser.execute_script(   # one read: the page re-renders the header
        "return Array.from(document.querySelectorAll('#opps thead th')).map(th => th.firstChild.textContent)"))
    apy, realized, alive = heads.index("APY"), heads.index("Realized"), heads.index("Alive")
    assert realized == apy + 1 and alive == apy + 2           # beside the predicted APY

    def agrees() -> Any:
        # each shown row against the REST record of the same id (fetched together: values move each cycle):
        # Realized = realized_24h.apy_percent to 2 decimals ("≈ " when not from settlements), Alive = alive_hours
        want = {o["id"]: o for o in api(base, f"/opportunities?symbol={symbol}&limit=100")["opportunities"]}
        checked = []
        for r in rows(browser):
            o = want.get(r["id"])
            if o is None or o.get("realized_24h") is None or o.get("alive_hours") is None:
                continue
            rz = o["realized_24h"]
            text = ("" if rz["source"] == "settlements" else "≈ ") + f"{rz['apy_percent']:.2f} %"
            hours = o["alive_hours"]
            alive_text = f"{hours:.2f} h" if hours < 10 else f"{hours:.1f} h"
            if r["cells"][realized] != text or r["cells"][alive] != alive_text:
                return False
            checked.append(r["id"])
        return checked
    checked = wait("a row with realized returns and time alive equal to the REST record", agrees)
    # its detail states both windows, the persistence statistics and where the realized figures come from
    wait("the row clicked", lambda: browser.find_element("css selector", f'#opps tbody tr[data-id="{checked[0]}"]')
         .click() or True)
    detail = wait("the detail panel", lambda: (d := browser.find_element("id", "detail")).is_displayed() and d)
    for label in ("Persistence and realized", "opened", "avg divergence 24 h / 7 d", "stability (cv)",
                  "sign held 24 h / 7 d", "realized 24 h", "realized 7 d"):
        assert label in detail.text, label
    assert re.search(r"realized 24 h\s+net -?\d+\.\d{3} % = -?\d+\.\d{2} % APY", detail.text), detail.text
    shot(browser, "realized")


def test_matrix_basis_switch_changes_the_numbers_correctly(stack, browser) -> None:
    _, base, _ = stack
    browser.get(base + "/?view=matrix&basis=1h&msym=BTC")
    cell_css = "#matrix tr[data-symbol=BTC] td[data-dex=hyperliquid]"
    wait("the BTC/hyperliquid cell", lambda: browser.find_element("css selector", cell_css).get_attribute("data-rate-1h"))

    def read() -> tuple[str, float]:
        # text and rate_1h from the same render (a WS update may re-render between two reads)
        return browser.execute_script(
            "const c=document.querySelector(arguments[0]); return [c.firstChild.textContent, +c.getAttribute('data-rate-1h')];", cell_css)

    text, r1h = read()
    # 1 h basis: rate_1h in percent, 5 decimals
    assert abs(pct_text(text) - r1h * 100) <= 0.5e-5 + 1e-12
    browser.find_element("css selector", "input[name=basis][value='8h']").click()
    text, r1h = read()
    # 8 h = 8 x 1 h: e.g. 3.6e-05 / h -> 2.88e-04 / 8 h = 0.0288 %
    assert abs(pct_text(text) - 8 * r1h * 100) <= 0.5e-4 + 1e-12, (text, r1h)
    browser.find_element("css selector", "input[name=basis][value='apr']").click()
    text, r1h = read()
    # APR = 1 h x 8760 x 100 %: e.g. 3.6e-05 x 8760 x 100 = 31.54 %
    assert abs(pct_text(text) - r1h * 8760 * 100) <= 0.005 + 1e-9, (text, r1h)
    assert "basis=apr" in browser.current_url
    head = wait("the hyperliquid column head",   # retried: a live update may re-render the header mid-read
                lambda: browser.find_element("css selector", "#matrix th[data-dex=hyperliquid]").text)
    assert "interval 1 h" in head          # Hyperliquid settles hourly: each venue's interval is shown
    browser.get(base + "/?view=matrix&basis=8h")
    wait("matrix rows", lambda: len(browser.find_elements("css selector", "#matrix tbody tr")) > 10)
    shot(browser, "matrix")


def test_history_chart_draws_one_line_per_venue(stack, browser) -> None:
    _, base, _ = stack
    symbol = "BTC"
    listed = sorted(api(base, "/funding-rates")["data"].get(symbol, {}))   # every venue listing it now
    browser.get(base + f"/?view=history&market={symbol}&range=24h")
    # each line's attributes in one read (a redraw between element reads would leave them stale)
    paths = wait("chart lines", lambda: (p := browser.execute_script(
        """return Array.from(document.querySelectorAll('#chart svg path[data-dex]')).map(
             e => ({dex: e.dataset.dex, points: e.dataset.points, d: e.getAttribute('d')}));"""))
        and len(p) == len(listed) and p)
    assert sorted(p["dex"] for p in paths) == listed
    for p in paths:
        assert int(p["points"]) >= 1
        assert p["d"].startswith("M")
    assert "% / 1 h" in browser.find_element("css selector", "#chart svg").text
    legend = browser.find_element("id", "legend").text
    assert all(d in legend for d in listed)
    shot(browser, "history")


def test_keyboard_switches_views_and_the_view_is_in_the_url(stack, browser) -> None:
    from selenium.webdriver.common.keys import Keys

    _, base, _ = stack
    browser.get(base + "/")
    tab = browser.find_element("id", "tab-opps")
    tab.send_keys(Keys.ARROW_RIGHT)           # tablist: arrows move between tabs
    wait("the matrix tab", lambda: browser.find_element("id", "tab-matrix").get_attribute("aria-selected") == "true")
    assert browser.find_element("id", "view-matrix").is_displayed()
    assert not browser.find_element("id", "view-opps").is_displayed()
    assert "view=matrix" in browser.current_url
    browser.find_element("tag name", "body").send_keys("3")   # digits jump to a view
    wait("the history view", lambda: browser.find_element("id", "view-history").is_displayed())
    assert "view=history" in browser.current_url


def test_phone_width_has_no_horizontal_page_scroll(stack, browser) -> None:
    _, base, _ = stack
    browser.set_window_size(390, 844)
    try:
        browser.get(base + "/")
        wait("rows", lambda: rows(browser))
        wait("the venue strip", lambda: browser.find_elements("css selector", ".venue[data-dex]"))
        assert not browser.find_element("id", "filters-box").get_attribute("open")   # table first on a phone
        # the table scrolls inside its own box; the page itself fits the phone's width
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(browser, "phone")
    finally:
        browser.set_window_size(1400, 1000)


@pytest.fixture
def stage_proxy(stack) -> Iterator[tuple[str, list[str]]]:
    """An API-Gateway-like stage prefix: http://127.0.0.1:P/prod/<path> -> the local gateway's /<path>."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    _, base, _ = stack
    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            if not self.path.startswith("/prod/"):
                self.send_error(403, "Missing Authentication Token")
                return
            r = httpx.get(base + self.path[len("/prod"):], timeout=30)
            self.send_response(r.status_code)
            self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_under_a_stage_prefix_the_page_finds_its_api(stack, browser, stage_proxy) -> None:
    _, base, _ = stack
    proxy, seen = stage_proxy
    ws = base.replace("http://", "ws://") + "/api/v1/ws"     # on AWS: DASHBOARD_WS_URL; here: ?ws=
    for page in ("/prod/", "/prod/dashboard"):
        seen.clear()
        browser.get(f"{proxy}{page}?ws={ws}")
        wait("rows through the stage prefix", lambda: rows(browser))
        assert any(p.startswith("/prod/api/v1/opportunities?") for p in seen), seen
        assert not [p for p in seen if not p.startswith("/prod/")], seen     # nothing asked outside the stage
        assert browser.find_element("id", "docs-link").get_attribute("href") == proxy + "/prod/docs"
        wait("live over the configured WebSocket", lambda: "live" in browser.find_element("id", "live").text
             and browser.execute_script("return window.frsStats.wsFrames") > 0)


def test_a_venue_fault_shows_in_the_strip(stack, browser) -> None:
    _, base, replay = stack
    browser.get(base + "/")
    wait("the venue strip", lambda: browser.find_elements("css selector", ".venue[data-dex=grvt]"))
    httpx.post(replay + "/_control/faults", content=json.dumps({"grvt": "500"}), timeout=10).raise_for_status()
    try:
        card = wait("grvt marked as failing", lambda: (c := browser.find_element("css selector", ".venue[data-dex=grvt]"))
                    .get_attribute("data-status") not in ("ok", "healthy") and "consecutive error" in c.text and c,
                    timeout=90)
        assert card.get_attribute("class").split()[-1] in ("warn", "bad")
        # the other venues stay fine
        assert browser.find_element("css selector", ".venue[data-dex=hyperliquid]").get_attribute("data-status") == "ok"
        shot(browser, "venue-fault")
    finally:
        httpx.delete(replay + "/_control/faults", timeout=10)
