"""The server's web page in a real headless browser: Debian's chromium and chromium-driver
(installed by scripts/setup.sh), driven by Selenium against a real server on 127.0.0.1 (the
shared real model). Type text, pick a voice, play: the phonemes show, the audio plays and the
spoken word is highlighted; then the A/B view renders the same text with two voices.

With KOKORO_LAB_WRITE_DOCS=1 the screenshot taken while a word is highlighted is also written to
docs/serve_page.png (the one README shows).
"""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import ROOT

from kokoro_lab.serving.app import create_app
from kokoro_lab.serving.process import serve_in_thread
from kokoro_lab.serving.speech import SpeechService
from kokoro_lab.serving.voices import VoiceBook

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: espeak keeps one phoneme group per word here, so every word has its own times (with "from
#: the" it would merge the two and the page would show phoneme groups instead).
TEXT = "Glue the sheet to the dark blue background. Kick the ball straight and follow through."


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    assert not missing, f"{missing} missing: run scripts/setup.sh (apt chromium chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1100,1400")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page_url(real_model):
    service = SpeechService({"kokoro": real_model}, VoiceBook(), max_chars=1000)
    with serve_in_thread(create_app(service)) as url:
        yield url
    service.close()


@pytest.mark.slow
def test_type_pick_a_voice_play_and_follow_the_words(browser, page_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 180)
    browser.get(page_url + "/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "ready"))
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys(TEXT)
    Select(browser.find_element(By.CSS_SELECTOR, ".voice-row .voice")).select_by_value("jm_kumo")
    browser.find_element(By.ID, "play").click()
    wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-state") != "busy")
    status = browser.find_element(By.ID, "status")
    assert status.get_attribute("data-state") == "playing", status.text

    # the audio plays and the word under the playback time is highlighted
    active = wait.until(
        lambda d: d.execute_script(
            "const a = document.getElementById('audio');"
            "const w = document.querySelector('#words .word.active');"
            "return a.currentTime > 0.3 && !a.paused && w ? w.textContent : null;"
        )
    )
    screenshot = tmp_path / "serve_page.png"
    browser.save_screenshot(str(screenshot))
    words = [w.text for w in browser.find_elements(By.CSS_SELECTOR, "#words .word")]
    assert words[:3] == ["Glue", "the", "sheet"] and len(words) == 15 and active in words
    assert browser.find_element(By.ID, "phonemes").text.strip()
    assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")
    duration = browser.execute_script("return document.getElementById('audio').duration")
    assert 3 < duration < 10

    # A/B: the same text with two voices
    browser.find_element(By.ID, "b-voice").clear()
    browser.find_element(By.ID, "b-voice").send_keys("jf_alpha:0.5+jm_kumo:0.5")
    browser.find_element(By.ID, "render-ab").click()
    wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-state") != "busy")
    assert status.get_attribute("data-state") == "ab-ready", status.text
    for side in ("a", "b"):
        wait.until(
            lambda d, side=side: d.execute_script(
                f"return document.getElementById('{side}-audio').duration > 3"
            )
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, f"#{side}-words .word")) == len(words)
    if os.environ.get("KOKORO_LAB_WRITE_DOCS") == "1":
        shutil.copy(screenshot, ROOT / "docs" / "serve_page.png")
