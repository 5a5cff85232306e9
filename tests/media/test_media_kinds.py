"""The pure pieces of issue 19: output kinds, image headers, upload names, ffmpeg line."""

from __future__ import annotations

import os
import stat

import pytest

from openclaw_connector.check import ffmpeg_line
from openclaw_connector.commands.photos import image_input, upload_name
from openclaw_connector.media_in import NotAnImage, PhotoTooLarge, check_image, sniff
from openclaw_connector.media_out import classify, placeholder_png
from openclaw_connector.messages import PhotoRef
from openclaw_connector.openclaw.types import Template
from tests.fakes.openclaw_media import animated_webp, png


@pytest.mark.parametrize("name,animated,kind", [
    ("a.png", False, "image"), ("a.png", True, "animation"), ("a.jpg", False, "image"),
    ("a.webp", False, "image"), ("a.webp", True, "animation"), ("a.gif", False, "animation"),
    ("video/ComfyUI_00001_.mp4", True, "video"), ("a.webm", True, "video"),
    ("a.txt", False, "document")])
def test_outputs_are_classified_by_extension_and_the_animated_flag(name, animated, kind):
    assert classify(name, animated) == kind


def test_headers_give_format_and_size():
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" \
        b"\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    assert (sniff(jpeg).ext, sniff(jpeg).width, sniff(jpeg).height) == ("jpg", 640, 480)
    assert (sniff(png(7, 9)).width, sniff(png(7, 9)).height) == (7, 9)
    assert (sniff(animated_webp(96, 48)).ext, sniff(animated_webp(96, 48)).height) == \
        ("webp", 48)
    assert sniff(b"GIF89a\x10\x00\x20\x00").height == 32
    assert sniff(placeholder_png()).ext == "png"
    assert sniff(b"%PDF-1.7 not an image") is None


def test_more_than_40_megapixels_and_non_images_are_refused():
    with pytest.raises(PhotoTooLarge, match="40 megapixels"):
        check_image(png(8000, 6000))
    with pytest.raises(NotAnImage):
        check_image(b"hello.png is really text")
    assert check_image(png(6000, 6000)).width == 6000


def test_upload_name_is_generated_from_ids_never_the_users_file_name():
    photo = PhotoRef("whatsapp", "+1 555/../x", "wamid.HBg=", "1", mime="image/png")
    assert upload_name(photo, "png") == "whatsapp_1555x_wamidHBg.png"


def test_image_input_prefers_the_configured_name_then_the_known_ones():
    tpl = Template("t", ("prompt", "init_image", "input_image"), {})
    assert image_input(tpl) == "input_image"
    assert image_input(tpl, "init_image") == "init_image"
    assert image_input(Template("p", ("prompt",), {})) is None


def test_check_says_whether_ffmpeg_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ffmpeg_line().startswith("INFO ffmpeg: not on PATH")
    tool = tmp_path / "ffmpeg"
    tool.write_text("#!/bin/sh\n")
    os.chmod(tool, stat.S_IRWXU)
    assert ffmpeg_line().startswith("INFO ffmpeg: found at %s" % tool)
