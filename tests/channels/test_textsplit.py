"""The one text splitter every channel uses: pieces within the limit in characters
(Discord, WhatsApp) or UTF-16 code units (Telegram, LINE), in order, nothing lost
but the newline a piece breaks at, never a surrogate pair cut, never an empty piece."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_connector.channels.textsplit import split_text, utf16_len

ALPHABET = st.sampled_from(["a", " ", "\n", "é", "\U0001F600", "\u4e2d"])


def squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=400), st.integers(min_value=2, max_value=50),
       st.sampled_from(["chars", "utf16"]))
def test_pieces_fit_and_keep_every_visible_character_in_order(text, limit, units):
    pieces = split_text(text, limit, units=units)
    size = utf16_len if units == "utf16" else len
    assert all(piece.strip() and size(piece) <= limit for piece in pieces)
    assert squash("".join(pieces)) == squash(text)


def test_utf16_len_counts_astral_characters_twice():
    assert utf16_len("a\U0001F600") == 3
    assert utf16_len("é") == 1


def test_lines_break_at_newlines_which_are_dropped_in_order():
    lines = ["line %04d %s" % (i, "x" * 40) for i in range(120)]
    pieces = split_text("\n".join(lines), 4096, units="utf16")
    assert len(pieces) == 2
    assert "\n".join(pieces).split("\n") == lines


def test_a_line_is_cut_only_when_it_alone_is_over_the_limit():
    assert split_text("x" * 1900 + "\n" + "y" * 500, 2000) == ["x" * 1900, "y" * 500]
    assert split_text("first\n" + "x" * 4095 + "\nthird", 4096, units="utf16") == \
        ["first", "x" * 4095, "third"]
    assert split_text("line one\n" * 3 + "🦊" * 5, 20) == \
        ["line one\nline one", "line one\n🦊🦊🦊🦊🦊"]


def test_a_long_line_breaks_after_a_space_in_its_second_half():
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb ", "cccc"]


def test_emoji_are_never_cut_inside_a_surrogate_pair():
    text = "\U0001F600" * 3000            # 6000 UTF-16 units, one line
    pieces = split_text(text, 4096, units="utf16")
    assert [utf16_len(p) for p in pieces] == [4096, 1904]
    assert "".join(pieces) == text
    assert split_text("🦊🦊🦊", 3, units="utf16") == ["🦊", "🦊", "🦊"]
    assert split_text("🦊🦊🦊", 3) == ["🦊🦊🦊"]


def test_empty_or_whitespace_only_text_gives_no_piece():
    assert split_text("", 10) == []
    assert split_text("  \n \n", 4096, units="utf16") == []
