"""The web page in a real browser: headless Debian Chromium driven by Selenium.

The real server (uvicorn on 127.0.0.1, a free port) runs in a thread. We type a sentence,
press Translate, and check for Chinese output, n-best alternatives, the request time and
a drawn heat-map (non-white pixels on the canvas); then Ctrl+Enter, the layer/head
selectors, and a phone-width window without horizontal scrolling. Documents: paragraphs
kept, the Markdown and HTML formats, glossary lines, and a file uploaded and its
translation downloaded. Screenshots go to the
test's tmp dir (and to $HANYI_SERVE_SCREENSHOT when set, which is how docs/serve.png was
made). `.ci/run` installs chromium and chromium-driver; without them the test skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from hanyi.config import ServeConfig
from hanyi.serving import create_app

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1100,1000"]
CJK = re.compile(r"[\u4e00-\u9fff]")

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                                reason="needs Debian chromium + chromium-driver (.ci/run)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_translator):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(tiny_translator, ServeConfig()),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=90.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def inked_pixels(driver) -> int:
    """Canvas pixels that are neither white nor transparent."""
    return driver.execute_script("""
        const c = document.getElementById('heatmap');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i+3] && (d[i] < 200 || d[i+2] < 200)) n++;
        return n;""")


def translate_in_page(driver, text: str, ctrl_enter: bool = False) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "src")
    box.clear()
    box.send_keys(text)
    driver.execute_script("document.getElementById('heatmap').dataset.rendered = ''")
    if ctrl_enter:
        box.send_keys(Keys.CONTROL, Keys.ENTER)
    else:
        driver.find_element(By.ID, "translate").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "heatmap").get_attribute("data-rendered")
             == "true")
    return driver.find_element(By.ID, "output").text


def test_page_translates_and_draws_the_heatmap(server_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server_url + "/")
    assert "hanyi" in browser.title
    output = translate_in_page(browser, "I like to read books.")
    assert CJK.search(output), output
    assert browser.find_element(By.ID, "error").get_attribute("hidden")
    assert "ms" in browser.find_element(By.ID, "time").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#alternatives li")) >= 1
    canvas = browser.find_element(By.ID, "heatmap")
    assert int(canvas.get_attribute("data-cols")) >= 3
    assert inked_pixels(browser) > 100
    layer, head = Select(browser.find_element(By.ID, "layer")), Select(browser.find_element(
        By.ID, "head"))
    assert len(layer.options) >= 1 and head.options[0].text == "mean of heads"
    head.select_by_index(1)  # one head instead of the mean: redrawn, still inked
    assert inked_pixels(browser) > 100
    browser.save_screenshot(str(tmp_path / "serve.png"))
    if os.environ.get("HANYI_SERVE_SCREENSHOT"):
        shutil.copy(tmp_path / "serve.png", os.environ["HANYI_SERVE_SCREENSHOT"])

    second = translate_in_page(browser, "Where is the station?", ctrl_enter=True)
    assert CJK.search(second)


def test_page_fits_a_phone_screen(server_url, browser, tmp_path):
    browser.set_window_size(375, 800)
    browser.get(server_url + "/")
    assert CJK.search(translate_in_page(browser, "Thank you very much for your help."))
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    view_width = browser.execute_script("return window.innerWidth")
    assert page_width <= view_width, (page_width, view_width)
    browser.save_screenshot(str(tmp_path / "serve-phone.png"))


def run_page(driver, text: str, fmt: str = "text", glossary: str = "") -> str:
    """Translate ``text`` in format ``fmt`` through the page; the output's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.execute_script("document.getElementById('glossary-box').open = true")
    for element_id, value in (("src", text), ("glossary", glossary)):
        box = driver.find_element(By.ID, element_id)
        box.clear()
        box.send_keys(value)
    Select(driver.find_element(By.ID, "format")).select_by_value(fmt)
    driver.execute_script("document.getElementById('output').dataset.state = ''")
    driver.find_element(By.ID, "translate").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "output").get_attribute("data-state")
             in ("done", "error"))
    assert driver.find_element(By.ID, "error").get_attribute("hidden"), \
        driver.find_element(By.ID, "error").text
    return driver.find_element(By.ID, "output").get_attribute("textContent")


def test_page_translates_paragraphs_documents_glossary_and_files(server_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server_url + "/")
    out = run_page(browser, "I like to read books. Tom likes tea.\n\nWhere is the station?")
    paragraphs = out.split("\n")
    assert len(paragraphs) == 3 and paragraphs[1] == "", out
    assert CJK.search(paragraphs[0]) and CJK.search(paragraphs[2])
    assert not browser.find_elements(By.CSS_SELECTOR, "#alternatives li:nth-child(2)")

    out = run_page(browser, "# Books\n\nI like *books*.\n\n```\ncode stays\n```", "markdown")
    assert out.startswith("# ") and out.endswith("```\ncode stays\n```") and CJK.search(out)
    out = run_page(browser, "<p>I like <b>books</b>.</p><pre>x = 1</pre>", "html")
    assert out.startswith("<p>") and "<b>" in out and out.endswith("</p><pre>x = 1</pre>")
    assert CJK.search(out), out
    browser.execute_script(  # what the page sends, from here on
        "window.sent = []; const real = window.fetch;"
        "window.fetch = (url, options) => { window.sent.push(options && options.body);"
        " return real(url, options); };")
    Select(browser.find_element(By.ID, "inline")).select_by_value("slots")
    out = run_page(browser, "<p>I like <b>books</b>.</p>", "html")
    assert out.startswith("<p>") and "<b>" in out and CJK.search(out), out
    assert json.loads(browser.execute_script(
        "return window.sent.filter(b => typeof b === 'string')[0]"))["inline"] == "slots"
    Select(browser.find_element(By.ID, "inline")).select_by_value("align")
    out = run_page(browser, "Tom likes tea.", glossary="Tom = 汤姆先生")
    assert "汤姆先生" in out  # the glossary's Chinese, in place or appended: never lost
    browser.save_screenshot(str(tmp_path / "serve-documents.png"))

    guide = tmp_path / "guide.md"
    guide.write_text("# Tea\n\nTom likes tea.\n\n```\nkeep\n```\n", encoding="utf-8")
    browser.find_element(By.ID, "file").send_keys(str(guide))
    browser.find_element(By.ID, "translate-file").click()
    link = wait_for(browser, lambda d: d.find_element(By.ID, "download").is_displayed()
                    and d.find_element(By.ID, "download"))
    assert browser.execute_script(
        "return window.sent.filter(b => b instanceof FormData).pop().get('inline')") \
        == "align"
    assert link.get_attribute("download") == "guide.zh.md"
    assert link.get_attribute("href").startswith("blob:")
    content = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done);", link.get_attribute("href"))
    assert content.startswith("# ") and "```\nkeep\n```" in content and CJK.search(content)
