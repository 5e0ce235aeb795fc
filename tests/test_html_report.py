"""The HTML report: real pipeline (lite model) on the bundled sample (single-leg, frontal), the
landing check on the shared side-view jump clip and the same landmarks scored as a squat (knee
angle not measurable), the standing check on the first 3 s of a shared front clip; the batch
index over the sample and the side view plus a failed clip; guidance exactly for the failed
criteria; and the pages opened in headless Chromium (no console errors, nothing fetched from
outside, the charts on screen). Chromium is Debian's ``chromium`` (installed by .ci/run): a
missing browser skips locally and fails in CI."""

from __future__ import annotations

import base64
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import first_seconds, clip, run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "sample_single_leg_squat.mp4"
STANDING_CLIP = "front_squat_20reps_counter__rjsong.mp4"  # stands still from 1.1 s to 2.4 s
JUMP_CLIP = "side_jump_squat_landings__sagor.mp4"  # 6 landings, side view
SIDE_CLIP = JUMP_CLIP  # also scored as a (side-view) squat


class _Page(HTMLParser):
    """Tags with their attributes, and the text of <style> blocks."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def assert_self_contained(html: str, base_dir: Path) -> _Page:
    """No network address anywhere, no external stylesheet or font; every image is a data: URI;
    every link is relative and points at a file that exists. The one exception to "everything in
    the page": the annotated video beside it (a relative <video src> to an existing file), and with
    it one inline script; without a video, no script."""
    page = _Page(html)
    assert not re.search(r"(?i)\b(https?|ftp|wss?):", html), "the page names a network address"
    assert "//" not in "".join(v for _, a in page.tags for k, v in a.items() if k in ("src", "href") and v
                               and not v.startswith("data:"))
    assert not [t for t, _ in page.tags if t in ("link", "iframe", "object", "embed")]
    videos = [a for t, a in page.tags if t == "video"]
    scripts = [a for t, a in page.tags if t == "script"]
    assert len(videos) <= 1 and len(scripts) == len(videos) and all("src" not in a for a in scripts)
    css = "".join(page.styles)
    assert "@import" not in css and "@font-face" not in css
    assert all(u.startswith("data:") for u in re.findall(r"url\(\s*['\"]?([^)'\"]+)", css))
    for tag, attrs in page.tags:
        if tag == "video":
            assert attrs["src"] == "annotated.mp4" and (base_dir / attrs["src"]).is_file(), attrs
        elif "src" in attrs:
            assert attrs["src"].startswith("data:image/"), (tag, attrs["src"][:40])
        if tag == "a":
            href = attrs.get("href", "")
            assert href and not href.startswith(("/", "file:")), href
            path, _, fragment = href.partition("#")  # annotated.mp4#t=2.5: the file at that time
            assert (base_dir / path).exists(), f"link to a missing file: {href}"
            assert not fragment or re.fullmatch(r"t=\d+\.\d{3}", fragment), href
    return page


def images(page: _Page) -> list[tuple[str, np.ndarray]]:
    out = []
    for tag, attrs in page.tags:
        if tag == "img":
            mime, b64 = re.match(r"data:(image/(?:png|jpeg));base64,(.*)", attrs["src"], re.S).groups()
            img = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
            assert img is not None, f"{mime} does not decode"
            out.append((mime, img))
    return out


def colour_pixels(img_bgr: np.ndarray, hex_rgb: str, tol: int = 40) -> int:
    """Pixels within ``tol`` (per channel) of an RGB hex colour."""
    h = hex_rgb.lstrip("#")
    bgr = np.array([int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)])
    return int((np.abs(img_bgr.astype(int) - bgr).max(axis=-1) <= tol).sum())


def section(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}"')
    return html[start:html.index("</section>", start)]


def doc_reasons(doc: dict) -> list[str]:
    """The clip's failed criteria from its reps.json (as ``ClipAnalysis.reasons``)."""
    return list(dict.fromkeys([c for r in doc["reps"] for c in r["reasons"]] + doc["summary"]["reasons"]))


def assert_guidance_exactly(html: str, reasons: list[str]) -> str:
    """The "What to work on" section shows the guidance of exactly these failed criteria, with the
    two notes, and none of the other items; with none failed, one line and no guidance."""
    from valgus_cam.guidance import all_items, guidance_for, notes

    g = section(html, "guidance")
    shown = {i.id for i in guidance_for(reasons)}
    for item in all_items():
        assert (f"<h3>{item.title}</h3>" in g) == (item.id in shown), item.id
    if shown:
        assert "commonly associated with" in g.lower()
        assert notes().professional in g and notes().noise in g
    else:
        assert len(re.findall(r"<p\b", g)) == 1 and "Commonly associated" not in g and notes().noise not in g
    assert all(m == "not a diagnosis" for m in re.findall(r"(?i)(?:not a )?diagnos\w*", g))  # never a diagnosis
    return g


# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch")


@pytest.fixture(scope="module")
def sample(batch_dir, lite_model):
    """The real pipeline on the sample, through the API with annotate=True and report=True."""
    import valgus_cam

    r = valgus_cam.analyze(SAMPLE, out=batch_dir / "sample", model=lite_model, annotate=True, report=True)
    return r, batch_dir / "sample" / "report.html"


@pytest.fixture(scope="module")
def side(batch_dir, landing):
    """A side-view clip scored as a squat through the CLI with --report, from the landmarks the
    landing fixture's real MediaPipe run wrote (no second pose pass over the same clip)."""
    out = batch_dir / "side"
    res = run_cli("analyze", str(clip(SIDE_CLIP)), "--landmarks", str(landing[0].parent / "landmarks.csv"),
                  "--out", str(out), "--report", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "report.html" in res.stdout
    return out / "report.html"


@pytest.fixture(scope="module")
def standing(batch_dir, lite_model):
    """--test standing --report through the CLI on the first 3 s of a real front clip."""
    video = first_seconds(clip(STANDING_CLIP), 3.0, batch_dir / "stand.mp4")
    out = batch_dir / "standing"
    res = run_cli("analyze", str(video), "--test", "standing", "--out", str(out), "--model", "lite", "--report",
                  "--no-progress")
    assert res.returncode == 0, res.stderr
    return out / "report.html", json.loads((out / "reps.json").read_text())


@pytest.fixture(scope="module")
def landing(batch_dir, lite_model):
    """--test landing --report through the CLI on the side-view jump clip."""
    out = batch_dir / "landing"
    res = run_cli("analyze", str(clip(JUMP_CLIP)), "--test", "landing", "--out", str(out), "--model", "lite",
                  "--report", "--no-progress")
    assert res.returncode == 0, res.stderr
    return out / "report.html", json.loads((out / "reps.json").read_text())


@pytest.fixture(scope="module")
def batch_index(batch_dir, sample, side):
    import valgus_cam
    from valgus_cam.html_report import summary_row, write_batch_index

    side_result = valgus_cam.analyze(clip(SIDE_CLIP), landmarks=side.parent.parent / "landing" / "landmarks.csv",
                                     write=False)
    rows = [summary_row(sample[0], clip=SAMPLE.name, report_href="sample/report.html"),
            summary_row(side_result, clip=SIDE_CLIP, report_href="side/report.html"),
            summary_row(None, clip="broken.mp4", status="error", error="not a readable video: broken.mp4")]
    return write_batch_index(rows, batch_dir / "index.html", title="Test batch"), rows


@pytest.fixture(scope="module")
def browser():
    from _chromium import Chromium, find_chromium

    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI: chromium is missing (.ci/run installs Debian's chromium package)")
        pytest.skip("needs chromium (Debian: apt-get install chromium)")
    with Chromium(exe) as c:
        yield c


# ------------------------------------------------------------------------------------------------
def test_sample_report_content(sample):
    from valgus_cam.verdicts import REASONS

    r, path = sample
    assert path in r.files and path.is_file()
    html = path.read_text(encoding="utf-8")
    page = assert_self_contained(html, path.parent)
    doc = r.document
    # one table row per rep, each with its verdict and its reasons in words
    rows = re.findall(r'<tr class="(pass|fail|unmeasurable)">', section(html, "reps"))
    assert rows == [x["verdict"] for x in doc["reps"]] and len(rows) == 3
    for x in doc["reps"]:
        for code in x["reasons"]:
            assert REASONS[code][1:] in section(html, "reps")
    # what the page must say
    low = html.lower()
    assert "screening aid" in low and "not a diagnosis" in low and "physiotherapist or a doctor" in low
    assert "single-leg squat" in html and "front view" in html and "pose_landmarker_lite.task" in html
    # the pelvis: its chart, limits and sources; a rep's pelvic drop is its number or "not measured"
    pelvis = section(html, "pelvis")
    assert "Pelvis: drop and hip drift" in pelvis and 'class="chart"' in pelvis
    assert "Nakagawa" in html and "Hardcastle" in html and "Winter" in html
    cells = re.findall(r'<td class="num(?: fault)?">([^<]*)</td><td class="num nowrap(?: fault)?">([^<]*)</td>',
                       section(html, "reps"))
    assert len(cells) == 3
    for (drop, drift), x in zip(cells, doc["reps"]):
        assert drop == ("not measured" if x["pelvic_drop_deg"] is None else f"{x['pelvic_drop_deg']:+.0f}°")
        assert drift == ("not measured" if x["hip_drift_cm"] is None else f"{x['hip_drift_cm']:+.1f} cm")
    assert "Herrington" in html and "Munro" in html and "Crossley" in html  # sources of the limits
    assert "Only the right knee could be judged" in html  # single stance leg: no left-right claim
    # key frames: the worst and the best rep
    kf = section(html, "key-frames")
    assert f"Worst rep: rep {doc['summary']['worst_rep']}" in kf and "Best rep: rep" in kf
    # linked files beside the report
    names = {Path(a["href"]).name for t, a in page.tags if t == "a"}
    assert {"reps.json", "frames.csv", "landmarks.csv", "annotated.mp4"} <= names
    # the annotated video: each rep's number and time seek it to the rep's start, the failed reps
    # are marked on the timeline, the key frames link to their moment, a speed control
    fps = r.fps
    starts = [f"{r.frame_index[x.start_frame] / fps:.3f}" for x in r.analysis.results]
    for x, t in zip(doc["reps"], starts):
        assert abs(float(t) - x["start_s"]) < 1.5 / fps
    table = section(html, "reps")
    assert re.findall(r'<a class="seek" href="annotated\.mp4#t=([\d.]+)" data-t="\1" title="watch rep \d+">', table) \
        == starts
    video = section(html, "video")
    marks = re.findall(r'<a class="seek chapter (\w+)" href="annotated\.mp4#t=([\d.]+)"', video)
    assert marks == [(x["verdict"], t) for x, t in zip(doc["reps"], starts)]
    assert sum(v == "fail" for v, _ in marks) == 3  # every sample rep fails (trunk lean)
    assert all(f'data-rate="{x}"' in video for x in ("0.25", "0.5", "1"))
    assert len(re.findall(r"▶ watch this moment", kf)) == 2


def test_sample_report_images_decode_and_show_the_data(sample):
    _, path = sample
    imgs = images(_Page(path.read_text(encoding="utf-8")))
    pngs = [i for m, i in imgs if m == "image/png"]
    jpegs = [i for m, i in imgs if m == "image/jpeg"]
    assert len(pngs) == 5  # knee angle, knee over the foot, left-right, trunk, pelvis (no knee gap: single-leg)
    assert len(jpegs) == 2  # worst and best rep
    for img in pngs + jpegs:
        assert min(img.shape[:2]) >= 150 and img.std() > 20  # not blank
    knee = pngs[0]
    assert colour_pixels(knee, "#CC79A7") > 300  # the right (stance) knee's line
    assert colour_pixels(knee, "#D55E00") > 300  # the limit line and the failed reps' bands
    for kf in jpegs:  # the overlay is drawn: the FAIL banner (every sample rep fails on trunk lean)
        assert colour_pixels(kf, "#D55E00", tol=45) > 500


def test_side_view_report_says_knee_angle_not_measurable(side):
    html = side.read_text(encoding="utf-8")
    page = assert_self_contained(html, side.parent)
    # no annotated video written: no video, no script, no seek links (the page as before)
    assert not [t for t, _ in page.tags if t in ("video", "script")] and 'class="seek' not in html
    assert "Knee angle (FPPA) not measurable in this clip: side view" in html
    assert "filmed in side view" in html  # the verdicts of a side view are flagged as unreliable
    reps = section(html, "reps")
    n = len(re.findall(r'<tr class="(?:pass|fail|unmeasurable)">', reps))
    assert n >= 2 and n == len(json.loads((side.parent / "reps.json").read_text())["reps"])
    # each knee's cell: the angle and the knee over the foot, neither shown as a number
    cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r'<td class="num nowrap">(.*?)</td>', reps)]
    assert len(cells) == 2 * n and all(c == ["—", "—"] for c in cells)
    assert "the legs cannot be compared" in html
    assert len(images(_Page(html))) >= 4


def test_batch_index(batch_index, batch_dir):
    path, rows = batch_index
    html = path.read_text(encoding="utf-8")
    page = assert_self_contained(html, batch_dir)  # also: every link resolves to a report
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links == ["sample/report.html", "side/report.html"]
    body = section(html, "clips")
    assert len(re.findall(r"<tr class=", body)) == len(rows)
    assert "not a readable video: broken.mp4" in body and "error" in body
    assert "not measured" in body  # pelvic drop
    assert rows[0]["right_failed"] == 3 and rows[0]["left_passed"] is None
    assert rows[1]["worst_fppa_left_deg"] is None and rows[1]["view"] == "sagittal"
    (_, chart), = images(page)
    assert colour_pixels(chart, "#D55E00") > 200  # the limit line


def test_guidance_is_shown_exactly_for_the_failed_criteria(sample):
    from dataclasses import replace

    from valgus_cam.html_report import render_clip_report

    r, path = sample
    html = path.read_text(encoding="utf-8")
    assert r.analysis.reasons  # the sample's reps fail (trunk lean)
    g = assert_guidance_exactly(html, r.analysis.reasons)
    assert "Seen here: trunk leaned sideways (3 of 3 reps)" in g
    # right after the result at a glance, before the details
    assert html.index('id="summary"') < html.index('id="guidance"') < html.index('id="explain"')
    # other failed criteria (a rep's lost balance, a session's left-right difference) bring up
    # exactly their guidance too
    a = r.analysis
    results = [replace(a.results[0], reasons=a.results[0].reasons + ("balance_lost",)), *a.results[1:]]
    a2 = replace(a, results=results, summary=replace(a.summary, reasons=("knee_asymmetry",)))
    html2 = render_clip_report(replace(r, analysis=a2))
    g2 = assert_guidance_exactly(html2, a2.reasons)
    assert "free foot touched down (balance lost) (1 of 3 reps)" in g2 and "(over the whole clip)" in g2
    # nothing failed: one line, no guidance
    clean = [replace(x, reasons=(), verdict="pass") for x in a.results]
    a3 = replace(a, results=clean, summary=replace(a.summary, reasons=()))
    assert a3.reasons == []
    g3 = assert_guidance_exactly(render_clip_report(replace(r, analysis=a3)), [])
    assert "Nothing failed in this clip" in g3


def test_standing_report_shows_the_hold(standing):
    path, doc = standing
    html = path.read_text(encoding="utf-8")
    page = assert_self_contained(html, path.parent)
    assert "Standing alignment report" in html and doc["test"] == "standing"
    (h,) = doc["reps"]
    assert h["kind"] == "hold"
    glance = section(html, "summary")
    word = {"pass": "PASS", "fail": "FAIL", "unmeasurable": "NOT MEASURABLE"}[h["verdict"]]
    assert f'class="badge {h["verdict"]}">' in glance and word in glance
    assert f"from {h['start_s']:.1f} s to {h['end_s']:.1f} s" in glance
    hold = section(html, "hold")
    rows = re.findall(r'<tr class="(\w+)">\s*<td>([^<]+)</td>', hold)
    assert [w.split(" (")[0].split(":")[0] for _, w in rows] == [
        "Knee angle", "Foot turn-out", "Knee gap", "Ankle gap", "Knock knees", "Pelvis level"]
    for side in ("left", "right"):  # static knee angle and foot turn-out per leg, as in reps.json
        assert f'{side} <span class="">{h[f"fppa_frontal_{side}_deg"]:+.0f}°' in hold
        assert f"{h[f'foot_turnout_{side}_deg']:+.0f}° ± 4°" in hold
    unc = h["gap_uncertainty_cm"]
    for gap in ("knee_gap_cm", "ankle_gap_cm"):  # reps.json keeps 2 decimals: 43.15 may be 43.154 → "43.2"
        assert any(f"{h[gap] + d:.1f} cm ± {unc:.1f} cm" in hold for d in (-0.005, 0.0, 0.005)), (h[gap], unc)
    assert h["knees_together"] is False and "not measured (knees apart)" in hold  # feet apart: IMD refused
    assert f"{h['pelvic_obliquity_deg']:+.0f}° ± 10°" in hold and "not validated" in hold
    assert "168 cm was assumed" in hold and "--height-cm" in hold  # the height fallback, stated
    # the hold's key frame and no chart that assumes reps
    assert [m for m, _ in images(page)] == ["image/jpeg"]
    assert "Standing still" in section(html, "hold")
    for sid in ("reps", "knee-chart", "knee-gap", "trunk", "pelvis", "key-frames"):
        assert f'<section id="{sid}"' not in html
    assert "(knock knees)" in section(html, "limits") and "Shohat" in html and "Staheli" in html
    assert_guidance_exactly(html, doc_reasons(doc))


def test_standing_report_of_a_failed_hold(standing):
    """The same hold against a turn-out limit both feet exceed: the reasons with their values in the
    glance, the faults marked in the table, the feet-turned-out guidance and no other."""
    import valgus_cam
    from valgus_cam.verdicts import Thresholds

    path, doc = standing
    h = doc["reps"][0]
    limit = min(h["foot_turnout_left_deg"], h["foot_turnout_right_deg"]) - 10
    out = path.parent.parent / "standing_strict"
    r = valgus_cam.analyze(path.parent.parent / "stand.mp4", out=out, landmarks=path.parent / "landmarks.csv",
                           test="standing", thresholds=Thresholds(foot_turnout_max_deg=limit), report=True)
    assert r.analysis.hold.reasons == ("foot_turn_out_left", "foot_turn_out_right")
    html = (out / "report.html").read_text(encoding="utf-8")
    glance = section(html, "summary")
    assert 'class="badge fail">' in glance
    for side in ("left", "right"):
        v = h[f"foot_turnout_{side}_deg"]
        assert f"{side.capitalize()} foot turned out: {v:+.0f}° ± 4° (limit {limit:.0f}°)" in glance
        assert f'{side} <span class="faulttext">{v:+.0f}° ± 4°' in section(html, "hold")
    g = assert_guidance_exactly(html, list(r.analysis.hold.reasons))
    assert "<h3>Feet turned out</h3>" in g


def test_landing_report_lists_the_landings(landing):
    path, doc = landing
    html = path.read_text(encoding="utf-8")
    page = assert_self_contained(html, path.parent)
    assert "Landing check report" in html
    recs = doc["reps"]
    assert len(recs) == 6 and all(r["kind"] == "landing" and r["verdict"] == "unmeasurable" for r in recs)
    assert "6 landings of a jump" in section(html, "summary") and "No landing could be judged: side view" in html
    table = section(html, "landings")
    rows = re.findall(r'<tr class="(\w+)">(.*?)</tr>', table, re.S)
    assert [v for v, _ in rows] == ["unmeasurable"] * 6
    for (_, row), r in zip(rows, recs):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[:3] == [str(r["index"]), f"{r['contact_s']:.2f} s", f"{r['peak_flexion_s']:.2f} s"]
        assert cells[3:6] == ["— → —"] * 3  # no knee angle or knee gap from a side view
        assert "Not measurable: side view" in cells[6]
    assert "Knee angle (FPPA) not measurable in this clip: side view" in section(html, "knee-chart")
    worst = doc["summary"]["worst_rep"]
    kf = section(html, "key-frames")
    assert f"Landing {worst} at its deepest point, {recs[worst - 1]['peak_flexion_s']:.2f} s" in kf
    assert [m for m, _ in images(page)] == ["image/png", "image/jpeg"]  # knee-angle chart, key frame
    assert "landings judged" in section(html, "left-right") and "the legs cannot be compared" in html
    for sid in ("reps", "trunk", "pelvis", "hold"):
        assert f'<section id="{sid}"' not in html
    assert "Herrington &amp; Munro 2010" in section(html, "limits")
    g = assert_guidance_exactly(html, doc_reasons(doc))
    assert "Nothing could be judged" in g


@pytest.fixture(scope="module")
def nobody(tmp_path_factory, lite_model):
    """8 grey frames: a clip with nobody in it, and its squat analysis."""
    import valgus_cam

    d = tmp_path_factory.mktemp("nobody")
    frames = d / "frames"
    frames.mkdir()
    for i in range(8):
        cv2.imwrite(str(frames / f"f{i}.png"), np.full((240, 320, 3), 90, np.uint8))
    return frames, valgus_cam.analyze(frames, out=d / "auto", model=lite_model, report=True)


@pytest.mark.parametrize("test, says", [
    ("auto", ["No squat rep was found in this clip", "not measurable in this clip: nobody was found"]),
    ("standing", ["No still standing was found in this clip"]),
    ("landing", ["No jump landing was found in this clip", "not measurable in this clip: nobody was found"])])
def test_report_of_a_clip_with_nobody_in_it(nobody, test, says, lite_model):
    import valgus_cam

    frames, r = nobody
    out = frames.parent / test
    if test != "auto":
        r = valgus_cam.analyze(frames, out=out, model=lite_model, test=test, report=True)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(html, out)
    assert all(x in html for x in says), test
    assert 'id="key-frames"' not in html and r.analysis.records == []
    assert "nothing to work on" in assert_guidance_exactly(html, [])
    assert "nobody was found in the video" in section(html, "summary")


def test_key_frames_are_the_analysed_frames():
    """read_video_frames numbers frames as the analysis did (capture's sources)."""
    from valgus_cam.capture import open_source
    from valgus_cam.html_report import read_video_frames

    want = {0, 107, 256}
    got = read_video_frames(str(SAMPLE), want)
    with open_source(SAMPLE) as src:
        ref = {f.index: f.image_bgr.copy() for f in src if f.index in want}
    assert got.keys() == ref.keys() == want
    assert all(np.array_equal(got[k], ref[k]) for k in want)


def test_person_crop_keeps_the_person_with_room_for_the_banner():
    from valgus_cam.html_report import person_crop

    xy = np.full((33, 2), np.nan)
    xy[:, 0] = np.linspace(600, 700, 33)
    xy[:, 1] = np.linspace(200, 600, 33)
    x0, y0, x1, y1 = person_crop(xy, 1280, 720)
    assert x0 <= 600 and x1 >= 700 and y0 < 200 and y1 > 600 and 0 <= y0 and y1 <= 720
    assert (x1 - x0) >= 0.75 * (y1 - y0) - 1  # at least 3:4
    assert person_crop(None, 640, 480) == (0, 0, 640, 480)


def test_unwritable_report_path_is_an_output_error(sample, tmp_path):
    from valgus_cam.errors import OutputError
    from valgus_cam.html_report import write_clip_report

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_clip_report(sample[0], blocker / "report.html")
    assert list(tmp_path.iterdir()) == [blocker]  # nothing half-written left behind


# ------------------------------------------------------------------------------------------------
# headless Chromium
# ------------------------------------------------------------------------------------------------
def test_chromium_harness_sees_errors(browser, tmp_path):
    """The browser check can fail: a console error, an exception, a missing image and a request to
    the network are all reported."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><img src="missing.png"><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom"); no_such_function();</script>', encoding="utf-8")
    load = browser.load(bad)
    text = "\n".join(load.errors)
    assert "boom" in text and "exception" in text and "ERR_FILE_NOT_FOUND" in text
    assert any(u.startswith("http://") for u in load.requests)


# colours each page must show on screen: limit lines and FAIL marks (vermillion), the right knee's
# line, the trunk-lean line; the standing page's knee arcs within no limit (sky blue)
ON_SCREEN = {"sample": ("#D55E00", "#CC79A7", "#009E73"), "side": ("#D55E00",), "index": ("#D55E00",),
             "standing": ("#56B4E9",), "landing": ("#D55E00",)}


@pytest.mark.parametrize("which", list(ON_SCREEN))
def test_report_opens_in_chromium(which, browser, sample, side, batch_index, standing, landing):
    path = {"sample": sample[1], "side": side, "index": batch_index[0], "standing": standing[0],
            "landing": landing[0]}[which]
    load = browser.load(path, width=1000)
    assert load.errors == []
    assert all(u.startswith(("file:", "data:")) for u in load.requests), load.requests
    assert load.images and all(i["complete"] and i["natural_w"] > 0 for i in load.images)
    shot = cv2.imdecode(np.frombuffer(load.screenshot_png, np.uint8), cv2.IMREAD_COLOR)
    assert shot.shape[1] == 1000 and shot.shape[0] > (700 if which == "index" else 1500)
    ink = {"index": 0.03, "standing": 0.05}.get(which, 0.08)  # the standing page: text and one picture
    assert (shot.min(axis=-1) < 200).mean() > ink  # the page is not blank
    for colour in ON_SCREEN[which]:
        assert colour_pixels(shot, colour) > 300, colour
    assert load.scroll_width_px <= 1000
    phone = browser.load(path, width=390, height=800, mobile=True, screenshot=False)
    assert phone.errors == []
    assert phone.scroll_width_px <= 390  # nothing wider than a phone (tables and charts scroll in their box)


def test_report_video_plays_and_rep_links_seek_it(browser, sample):
    """Headless Chromium: the embedded annotated.mp4 (H.264) reaches loadedmetadata with the clip's
    duration, and clicking a rep's link in the table seeks it to that rep's start; ¼ speed."""
    r, path = sample
    n_video = int(r.frame_index[-1]) + 1
    duration = n_video / r.fps
    reps = r.analysis.results
    clicks = [f"""(() => {{ const a = document.querySelectorAll('#reps a.seek[title]')[{k}];
                  a.click(); return document.getElementById('clip-video').currentTime; }})()"""
              for k in range(len(reps))]
    load = browser.load(path, screenshot=False, scripts=(
        """new Promise(done => { const v = document.getElementById('clip-video');
             const report = () => done({duration: v.duration, error: v.error && v.error.code});
             if (v.readyState >= 1) report();
             v.addEventListener('loadedmetadata', report);
             v.addEventListener('error', report); })""",
        *clicks,
        """(() => { document.querySelector('#video button[data-rate="0.25"]').click();
                   return document.getElementById('clip-video').playbackRate; })()"""))
    meta, *seeks, rate = load.results
    assert meta["error"] is None and abs(meta["duration"] - duration) < 1.0 / r.fps, (meta, duration)
    for rep, t in zip(reps, seeks):
        start = r.frame_index[rep.start_frame] / r.fps
        assert abs(t - start) < 0.002, (rep.index, t, start)
    assert rate == 0.25
    assert load.errors == [], load.errors


def test_report_without_its_video_still_works(browser, sample, tmp_path):
    """report.html mailed alone: the video box gives way to a note, the seek links to plain text,
    the rest of the page is there."""
    _, path = sample
    alone = tmp_path / "report.html"
    alone.write_bytes(path.read_bytes())
    load = browser.load(alone, screenshot=False, settle_s=1.0, scripts=(
        """JSON.stringify({player: document.getElementById('video-player').hidden,
                          note: document.getElementById('video-missing').hidden,
                          links: document.querySelectorAll('a.seek').length,
                          reps: document.querySelectorAll('#reps tbody tr').length})""",))
    assert json.loads(load.results[0]) == {"player": True, "note": False, "links": 0, "reps": 3}
    assert [e for e in load.errors if "ERR_FILE_NOT_FOUND" not in e] == []
