"""The patient page in Chromium, the synthetic-truth clip as its camera, a real server and pose model.

The clip (``clip.py``) holds exactly ``spec.reps`` repetitions of standing hip flexion between
two blank stretches, and Chromium loops it. The page's counter is read at each blank stretch
(the person leaves the view): between two of them it must have risen by exactly
``spec.reps``, one at a time. Reading a whole pass between two blanks keeps the count
independent of when the live connection came up within the first pass.
"""

from __future__ import annotations

import httpx
import pytest

from tests.web.clip import EXERCISE
from tests.web.conftest import screenshot
from tests.web.test_clip import LIVE_CLIP_MISREAD, MIN_ANSWERS_PER_S

pytestmark = pytest.mark.slow

# Runs in the page: follows the displayed counter and the "person in view" flag until the person
# has left the view `passes` times after being seen; returns the counts shown at each leaving and
# every value the counter displayed in between.
_FOLLOW = """([passes, timeoutMs]) => new Promise((resolve, reject) => {
  const person = document.querySelector('[data-testid="person"]');
  const reps = document.querySelector('[data-testid="reps"]');
  const atLeave = [], shown = [], answers = [];
  let seen = false;
  const check = () => {
    const r = reps.textContent;
    if (shown[shown.length - 1] !== r) shown.push(r);
    if (person.dataset.found === "true") seen = true;
    else if (person.dataset.found === "false" && seen) {
      seen = false;
      atLeave.push(Number(r));
      answers.push([performance.now(), Number(document.querySelector('[data-testid="answered"]').textContent)]);
      if (atLeave.length === passes) { obs.disconnect(); resolve({ atLeave, shown, answers }); }
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(person, { attributes: true, childList: true, characterData: true, subtree: true });
  obs.observe(reps, { childList: true, characterData: true, subtree: true });
  setTimeout(() => { obs.disconnect(); reject(new Error(`timed out: ${JSON.stringify({ atLeave, shown })}`)); }, timeoutMs);
})"""

# Counts the overlay's pixels drawn in the skeleton's bone colour.
_SKELETON_PIXELS = """() => {
  const c = document.querySelector('[data-testid="overlay"]');
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 40 && d[i + 1] > 215 && d[i + 2] > 88 && d[i + 2] < 168 && d[i + 3] > 200) n++;
  return n;
}"""


@LIVE_CLIP_MISREAD
def test_live_page_draws_landmarks_and_counts_the_clips_repetitions(page, server, clip):
    _, spec = clip
    page.goto(f"{server.base}/app/patient#key={server.app_key}")
    assert "key=" not in page.url  # the key leaves the address bar at once
    select = page.get_by_test_id("exercise-select")
    select.locator("option").first.wait_for(state="attached")
    options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    listed = httpx.get(f"{server.base}/v1/exercises", headers={"Authorization": f"Bearer {server.app_key}"}).json()
    assert options == [x["name"] for x in listed["items"]]
    select.select_option(EXERCISE)
    assert "side" in page.get_by_test_id("placement-view").inner_text()

    page.get_by_test_id("start-camera").click()
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=\"landmark-count\"]').textContent) > 0", timeout=60_000
    )
    drawn = int(page.get_by_test_id("overlay").get_attribute("data-drawn"))
    pixels = page.evaluate(_SKELETON_PIXELS)
    screenshot(page, "patient-live.png")
    assert drawn >= 20, drawn  # of 33; a side view hides some of the far side
    assert pixels > 200, pixels

    follow = page.evaluate(_FOLLOW, [2, 120_000])
    first, second = follow["atLeave"]
    (t0_ms, n0), (t1_ms, n1) = follow["answers"]
    rate = (n1 - n0) / (t1_ms - t0_ms) * 1000
    screenshot(page, "patient-reps.png")
    print(f"one pass: {second - first} repetitions counted, {rate:.1f} answers/s")
    # below MIN_ANSWERS_PER_S the server is too slow for this clip (test_clip.py), not the page wrong
    assert second - first == spec.reps, f"{follow}; {rate:.1f} answers/s (exact from {MIN_ANSWERS_PER_S:.1f})"
    # one at a time, never skipping a number
    counts = [int(v) for v in follow["shown"] if v.isdigit()]
    assert [c for c in counts if c > first] == list(range(first + 1, second + 1)), follow


def test_record_and_upload_a_set_gives_a_full_assessment(page, server, clip):
    page.goto(f"{server.base}/app/patient#key={server.app_key}&exercise={EXERCISE}")
    page.get_by_test_id("start-camera").click()
    page.get_by_test_id("patient-id").fill("web-patient-1")
    record = page.get_by_test_id("record")
    record.click()
    assert record.get_attribute("data-recording") == "true"
    page.wait_for_timeout(6_000)
    record.click()  # stop: uploads
    status = page.get_by_test_id("upload-status")
    page.wait_for_function(
        "() => ['done', 'failed'].includes(document.querySelector('[data-testid=\"upload-status\"]').dataset.state)",
        timeout=240_000,
    )
    screenshot(page, "patient-result.png")
    assert status.get_attribute("data-state") == "done", page.get_by_test_id("result-summary").inner_text()
    aid = page.get_by_test_id("assessment-id").inner_text()
    a = httpx.get(f"{server.base}/v1/assessments/{aid}", headers={"Authorization": f"Bearer {server.app_key}"}).json()
    assert a["exercise"] == EXERCISE and a["patient_id"] == "web-patient-1"
    assert a["input"]["kind"] == "video" and a["input"]["container"] and "webm" in a["input"]["container"]
    # MediaRecorder's WebM declares no duration: the frames' own timestamps span about the 6 s recorded
    assert 4.0 < a["series"]["t_s"][-1] < 9.0, a["series"]["t_s"][-1]
    assert a["input"]["frames_with_pose"] > 0
    reps = next(m for m in a["metrics"] if m["name"] == "rep_count")
    shown = page.get_by_test_id("result-reps").inner_text()
    if reps["measurable"]:
        assert float(shown) == reps["value"], (shown, reps)
    else:
        assert shown == "not measurable", (shown, reps)
