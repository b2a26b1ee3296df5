"""The ``generate_video`` tool's input and output: what a model fills in and what a bot gets back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AspectRatio = Literal["16:9", "9:16", "1:1"]
Resolution = Literal["480p", "720p", "1080p"]


class VideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        max_length=4000,
        description="What the video shows: subject, action, setting, camera, style. Any language.",
    )
    image_url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://",
        description="A public http(s) URL of an image to start from (image-to-video). Leave out for text-to-video.",
    )
    duration_s: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Length in seconds. Providers round it to what they support (Sora 4/8/12, Kling 5/10, Ark 2-12).",
    )
    aspect_ratio: AspectRatio = Field(default="16:9", description="16:9 landscape, 9:16 portrait or 1:1 square.")
    resolution: Resolution = Field(default="720p", description="The height of a landscape video (width of portrait).")


class VideoResult(BaseModel):
    video_url: str = Field(description="Where the finished MP4 is stored.")
    provider: str = Field(description="Which service made the video (storyboard is the local renderer).")
    model: str = Field(description="The provider's model.")
    duration_s: float = Field(description="The video's length in seconds.")
    thumbnail_url: str | None = Field(default=None, description="A still image of the video, when there is one.")
    note: str = Field(default="", description="Anything the user should know about this video.")
