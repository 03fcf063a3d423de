"""Screenshots of every page for the README, from a running CoinPilot (e.g. `python3 dev.py`).

.venv/bin/python docs/take_screenshots.py http://127.0.0.1:8000 admin "$(cat var/admin-password.txt)"
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = ["", "market/?range=3d", "risk/", "history/", "system/", "exits/?days=14", "backtest/"]
OUT = Path(__file__).parent / "screenshots"


def main(base: str, username: str, password: str) -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("#login-form button[type=submit]")
        for path in PAGES:
            page.goto(f"{base}/{path}")
            page.wait_for_timeout(2000)
            name = {"backtest": "backtest-form"}.get(path.split("/")[0], path.split("/")[0] or "overview")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        # a portfolio backtest of the active strategy's symbols, run through the page's job
        page.goto(f"{base}/backtest/")
        page.check("#mode-portfolio")
        page.click("#backtest-form button[type=submit]")
        page.wait_for_selector("#per-symbol tbody tr", timeout=180_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(OUT / "backtest-portfolio.png"), full_page=True)
        page.goto(f"{base}/admin/trading/strategyconfig/")
        page.click("table#result_list tbody tr a")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(OUT / "admin-strategy.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
