"""``JobFile.headers``: credentials for the host's download of a result file, never in its dumps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from builder.sdk.jobs import JobFile, JobStatus

KEY = "sk-test-download-0123456789"


def test_headers_go_with_the_download_and_stay_out_of_dumps_and_repr() -> None:
    video = JobFile(
        name="a.mp4", content_type="video/mp4", url="https://api.example/a/content", headers={"Authorization": KEY}
    )
    status = JobStatus(state="succeeded", output={}, files={"video_url": video})

    assert status.files["video_url"].headers == {"Authorization": KEY}
    for shown in (status.model_dump(), status.model_dump(mode="json"), status.model_dump_json(), repr(status)):
        assert KEY not in str(shown)
    assert JobStatus.model_validate_json(status.model_dump_json()).files["video_url"].headers == {}


def test_a_file_given_as_bytes_has_no_download_headers() -> None:
    with pytest.raises(ValidationError, match="headers go with the download of url"):
        JobFile(name="a.mp4", content_type="video/mp4", data=b"\x00", headers={"Authorization": KEY})
