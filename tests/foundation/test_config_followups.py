"""``templates.<id>.followups`` (issue 17): checked at start with the key path and the
fix (exit 78), read back through ``Config.followups``, printed as nested YAML."""

from __future__ import annotations

import yaml

from openclaw_connector import config as configmod
from tests.foundation.test_cli import run_cli, write
from tests.foundation.test_config import problems

KEY = "openclaw.yaml: templates.portrait.followups: "


def _followups(tmp_path, mapping: str) -> list[str]:
    return problems("templates:\n  portrait:\n    followups: %s\n" % mapping,
                    tmp_path=tmp_path)


def test_followups_are_read_in_order_per_template(tmp_path):
    path = write(tmp_path, "templates:\n  portrait:\n    prompt_input: positive\n"
                           "    followups: {Upscale: upscale_4x, Fix face: face.v2}\n")
    cfg = configmod.load(path, env={})
    assert cfg.followups("portrait") == {"Upscale": "upscale_4x", "Fix face": "face.v2"}
    assert list(cfg.followups("portrait")) == ["Upscale", "Fix face"]
    assert cfg.followups("other") == {}
    assert cfg.prompt_input("portrait") == "positive"


def test_bad_label_reserved_label_and_bad_target_are_refused(tmp_path):
    (long,) = _followups(tmp_path, "{Upscale it to four times: upscale}")
    assert long.startswith(KEY + 'button label "Upscale it to four times": expected text '
                           "of 1 to 20 characters")
    (empty,) = _followups(tmp_path, '{"": upscale}')
    assert empty.startswith(KEY + 'button label "": expected text of 1 to 20')
    (again,) = _followups(tmp_path, "{Again: upscale}")
    assert again == KEY + ('button label "Again": Again and Details are the result\'s own '
                           "buttons; choose another label")
    (details,) = _followups(tmp_path, "{details: upscale}")
    assert "Again and Details are the result's own buttons" in details
    (twice,) = _followups(tmp_path, "{Upscale: a, upscale: b}")
    assert twice.startswith(KEY + 'button label "upscale": given twice')
    (target,) = _followups(tmp_path, '{Upscale: ""}')
    assert target.startswith(KEY + "Upscale: expected a template id")
    (shape,) = _followups(tmp_path, "[upscale]")
    assert shape.startswith(KEY + "expected a mapping of button label to template id")


def test_more_than_ten_followups_are_refused(tmp_path):
    many = "{%s}" % ", ".join("B%d: t%d" % (i, i) for i in range(11))
    assert _followups(tmp_path, many) == [
        KEY + "11 follow-ups; at most 10 per template fit under a result (remove some)"]
    ten = "{%s}" % ", ".join("B%d: t%d" % (i, i) for i in range(10))
    path = write(tmp_path, "templates:\n  portrait:\n    followups: %s\n" % ten)
    assert len(configmod.load(path, env={}).followups("portrait")) == 10


def test_a_bad_followup_exits_78_naming_the_key(tmp_path):
    path = write(tmp_path, "console: {enabled: true}\ntemplates:\n  portrait:\n"
                           "    followups: {Again: upscale}\n")
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 78
    assert KEY + 'button label "Again"' in result.stderr


def test_print_config_prints_followups_as_nested_yaml(tmp_path):
    path = write(tmp_path, "console: {enabled: true}\ntemplates:\n  portrait:\n"
                           "    image_input: photo\n    followups: {Upscale: upscale}\n")
    result = run_cli("-c", path, "--print-config")
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["templates"] == {"portrait": {"image_input": "photo",
                                                 "followups": {"Upscale": "upscale"}}}
