"""Encoding the cards into an MP4 with the ffmpeg binary that ships in ``imageio-ffmpeg``.

Raw RGB frames go to ffmpeg's stdin; it writes H.264 (libx264, yuv420p, ``+faststart``) that
every browser plays. The cards cross-fade into one another and a thin bar along the bottom fills
as the clip plays. This is blocking work: the caller runs it in a thread, and ``on_frame`` reports
each frame written so that the job can show its progress.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final

import imageio_ffmpeg  # type: ignore[import-untyped]  # no type hints shipped, no stubs package
from PIL import Image, ImageDraw

from plugins.video_generation.storyboard.script import FADE_FRAMES, Storyboard

CODEC: Final = "libx264"
BAR_COLOUR: Final = (250, 250, 250)
_FINISH_TIMEOUT_S: Final = 120.0
_ERROR_TAIL_CHARS: Final = 600


class RenderFailed(Exception):
    """ffmpeg could not encode the video; the message ends with what ffmpeg said."""


class RenderStopped(Exception):
    """The render was cancelled."""


def ffmpeg_command(output: Path, size: tuple[int, int], fps: int) -> list[str]:
    width, height = size
    return [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-an",
        "-c:v",
        CODEC,
        "-preset",
        "veryfast",
        "-tune",
        "stillimage",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(output),
    ]


def frames(storyboard: Storyboard, images: Sequence[Image.Image]) -> Iterator[Image.Image]:
    """Every frame: each card, cross-fading into the next over its last frames, with the bar."""
    total = storyboard.frames
    done = 0
    for position, (card, image) in enumerate(zip(storyboard.cards, images, strict=True)):
        following = images[position + 1] if position + 1 < len(images) else None
        fade = min(FADE_FRAMES, card.frames // 3)
        for frame in range(card.frames):
            picture = image
            into_fade = frame - (card.frames - fade)
            if following is not None and fade and into_fade >= 0:
                picture = Image.blend(image, following, (into_fade + 1) / (fade + 1))
            yield _with_bar(picture, (done + frame + 1) / total)
        done += card.frames


def _with_bar(image: Image.Image, fraction: float) -> Image.Image:
    width, height = image.size
    thickness = max(2, height // 180)
    frame = image.copy()
    ImageDraw.Draw(frame).rectangle((0, height - thickness, round(width * fraction), height), fill=BAR_COLOUR)
    return frame


def encode(
    storyboard: Storyboard,
    images: Sequence[Image.Image],
    output: Path,
    *,
    on_frame: Callable[[int, int], None],
    stopped: Callable[[], bool],
) -> None:
    """Write the MP4 to ``output`` (blocking); ``RenderFailed`` or ``RenderStopped`` otherwise."""
    size = images[0].size
    log = output.with_suffix(".ffmpeg.log")
    with log.open("wb") as errors:
        process = subprocess.Popen(
            ffmpeg_command(output, size, storyboard.fps),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    assert process.stdin is not None
    try:
        for number, frame in enumerate(frames(storyboard, images), start=1):
            if stopped():
                raise RenderStopped()
            process.stdin.write(frame.tobytes())
            on_frame(number, storyboard.frames)
        process.stdin.close()
        process.wait(timeout=_FINISH_TIMEOUT_S)
    except BrokenPipeError:
        process.wait(timeout=_FINISH_TIMEOUT_S)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        said = log.read_text(errors="replace").strip() if log.exists() else ""
        log.unlink(missing_ok=True)
    if process.returncode != 0:
        raise RenderFailed(f"ffmpeg exited with {process.returncode}: {said[-_ERROR_TAIL_CHARS:] or 'no message'}")


def probe(path: Path) -> str:
    """What ffmpeg says about a media file (``ffmpeg -i``; its stderr names the streams and duration)."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stderr
