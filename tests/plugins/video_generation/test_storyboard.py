"""The offline storyboard provider: a real, playable H.264 MP4 rendered here, with progress."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import JsonValue

from builder.sdk import JobHandle, ToolError
from builder.sdk.testing import PluginHarness
from plugins.video_generation.storyboard import renders
from plugins.video_generation.storyboard.cards import wrap
from plugins.video_generation.storyboard.encode import probe
from plugins.video_generation.storyboard.fonts import cjk_font_file, font_set
from plugins.video_generation.storyboard.script import FPS, MIN_CARD_S, plan, sentences
from tests.plugins.video_generation.conftest import TOOL, cancel, follow

STORY = "A fox wakes at dawn. It crosses a frozen river, carefully! Then it finds its den, warm and quiet."
CJK_STORY = "一只小狐狸在清晨醒来。它小心翼翼地穿过结冰的河流！最后，它回到了温暖安静的窝里。"


def duration_of(report: str) -> float:
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", report).groups()  # type: ignore[union-attr]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def saved(data: bytes | None, folder: Path, name: str) -> Path:
    assert data is not None
    path = folder / name
    path.write_bytes(data)
    return path


async def test_the_default_provider_renders_an_h264_mp4_of_the_requested_length_with_progress(
    plugin_harness: Callable[..., PluginHarness], tmp_path: Path
) -> None:
    harness = plugin_harness("plugins.video_generation", config={})

    handle = await harness.invoke(TOOL, {"prompt": STORY, "duration_s": 6})
    statuses = await follow(harness, handle)

    running = [status for status in statuses if status.state == "running"]
    percents = [status.percent or 0 for status in running]
    assert percents == sorted(percents) and any(0 < percent < 100 for percent in percents)
    assert any(re.fullmatch(r"rendering frame \d+ of 144", status.note) for status in running)
    done = statuses[-1]
    assert done.state == "succeeded" and done.percent == 100
    assert done.output is not None
    assert (done.output["provider"], done.output["model"]) == ("storyboard", "local-storyboard-renderer")
    assert "rendered locally" in str(done.output["note"]) and "not AI-generated" in str(done.output["note"])
    assert done.files["video_url"].content_type == "video/mp4"
    report = probe(saved(done.files["video_url"].data, tmp_path, "story.mp4"))
    assert "Video: h264" in report and "yuv420p" in report and "1280x720" in report
    assert abs(duration_of(report) - 6) <= 0.5
    assert done.output["duration_s"] == 6.0
    thumbnail = done.files["thumbnail_url"]
    assert thumbnail.content_type == "image/jpeg" and (thumbnail.data or b"").startswith(b"\xff\xd8")
    assert harness.progress[0].note == "storyboard render started (local renderer)"


async def test_a_chinese_prompt_renders_in_portrait(
    plugin_harness: Callable[..., PluginHarness], tmp_path: Path
) -> None:
    harness = plugin_harness("plugins.video_generation", config={"provider": "storyboard"})

    handle = await harness.invoke(TOOL, {"prompt": CJK_STORY, "duration_s": 4, "aspect_ratio": "9:16"})
    done = (await follow(harness, handle))[-1]

    assert done.state == "succeeded" and done.output is not None
    report = probe(saved(done.files["video_url"].data, tmp_path, "cjk.mp4"))
    assert "Video: h264" in report and "720x1280" in report
    assert abs(duration_of(report) - 4) <= 0.5
    # Without a CJK font on the machine the cards still render, and the user is told why the text shows as boxes.
    assert ("install a CJK font" in str(done.output["note"])) == (cjk_font_file() is None)


async def test_square_480p_and_a_reference_image_the_renderer_says_it_ignores(
    plugin_harness: Callable[..., PluginHarness], tmp_path: Path
) -> None:
    harness = plugin_harness("plugins.video_generation", config={})

    handle = await harness.invoke(
        TOOL,
        {
            "prompt": "Sunrise.",
            "duration_s": 2,
            "aspect_ratio": "1:1",
            "resolution": "480p",
            "image_url": "https://img.example/a.png",
        },
    )
    done = (await follow(harness, handle))[-1]

    assert done.output is not None and "does not use the reference image" in str(done.output["note"])
    report = probe(saved(done.files["video_url"].data, tmp_path, "square.mp4"))
    assert "480x480" in report and abs(duration_of(report) - 2) <= 0.5


async def test_a_render_whose_process_is_gone_is_rendered_again_by_the_next_poll(
    plugin_harness: Callable[..., PluginHarness], storyboard_dir: Path
) -> None:
    harness = plugin_harness("plugins.video_generation", config={})
    state: dict[str, JsonValue] = {
        "provider": "storyboard",
        "prompt": STORY,
        "duration_s": 3.0,
        "aspect_ratio": "16:9",
        "resolution": "480p",
    }
    stale = JobHandle(job_id="sb-stale", state=state)
    folder = storyboard_dir / "sb-stale"
    folder.mkdir(parents=True)
    lost = {"state": "rendering", "frames_done": 10, "frames_total": 72, "updated_at": time.time() - 3600}
    (folder / "status.json").write_text(json.dumps(lost))
    never_started = JobHandle(job_id="sb-wiped", state=state)

    for handle in (stale, never_started):
        done = (await follow(harness, handle))[-1]
        assert done.state == "succeeded"
        assert not renders.job_dir(handle.job_id).exists()  # collected, then cleaned up


async def test_cancelling_stops_the_render(plugin_harness: Callable[..., PluginHarness]) -> None:
    harness = plugin_harness("plugins.video_generation", config={})
    handle = await harness.invoke(TOOL, {"prompt": STORY, "duration_s": 60, "resolution": "1080p"})

    await cancel(harness, handle)

    deadline = time.monotonic() + 10
    while (status := renders.read_status(handle.job_id)) is None or not status.finished:
        assert time.monotonic() < deadline, "the render went on after it was cancelled"
        time.sleep(0.05)
    assert status.state == "cancelled" and status.frames_done < status.frames_total
    assert not (renders.job_dir(handle.job_id) / "video.mp4").exists()
    with pytest.raises(ToolError) as caught:
        await follow(harness, handle, timeout_s=10)
    assert caught.value.code == "generation_failed" and "cancelled" in caught.value.message
    assert not renders.job_dir(handle.job_id).exists()


async def test_the_settings_check_runs_ffmpeg(plugin_harness: Callable[..., PluginHarness]) -> None:
    check = await plugin_harness("plugins.video_generation", config={}).validate_config({})

    assert check is not None and check.ok and "ffmpeg" in check.message and "needs no account" in check.message


def test_a_prompt_is_cut_into_sentences_in_any_script() -> None:
    assert sentences(STORY) == [
        "A fox wakes at dawn.",
        "It crosses a frozen river, carefully!",
        "Then it finds its den, warm and quiet.",
    ]
    assert sentences(CJK_STORY) == [
        "一只小狐狸在清晨醒来。",
        "它小心翼翼地穿过结冰的河流！",
        "最后，它回到了温暖安静的窝里。",
    ]
    assert sentences("First line\nsecond line") == ["First line", "second line"]


@pytest.mark.parametrize("duration_s", [1, 2, 5, 8, 30, 60])
def test_the_cards_share_exactly_the_requested_time_and_each_can_be_read(duration_s: int) -> None:
    long_prompt = " ".join(f"Sentence number {number} of the story." for number in range(40))

    storyboard = plan(long_prompt, duration_s)

    assert storyboard.frames == duration_s * FPS
    assert storyboard.cards[0].kind == "title" and storyboard.title == "Sentence number 0 of the story"
    captions = storyboard.cards[1:]
    assert all(card.frames >= MIN_CARD_S * FPS for card in captions)
    if captions:  # every sentence is on some card, in order
        assert " ".join(card.text for card in captions).startswith("Sentence number 0 of the story.")


def test_cjk_text_wraps_between_characters_but_not_before_punctuation() -> None:
    fonts = font_set(40)
    five = sum(fonts.font_for(character).getlength(character) for character in "一二三四五")

    lines = wrap("一二三四五，六七八九十。", fonts, five)

    assert "".join(lines) == "一二三四五，六七八九十。"
    assert lines[0] == "一二三四五，" and not any(line.startswith(("，", "。")) for line in lines)
