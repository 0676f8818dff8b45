"""Prompt-lookup decoding's parts that need no model: the draft and the text stream."""

from __future__ import annotations

from eval.bench.prompt_lookup import TextStream, draft


def test_the_draft_is_what_followed_the_latest_occurrence_of_the_end() -> None:
    #            0  1  2  3  4  5  6  7  8  9
    sequence = [5, 6, 7, 8, 9, 5, 6, 7, 1, 2, 5, 6]

    # "5 6" ended twice before: the latest (at 5) was followed by 7 1 2.
    assert draft(sequence, 3) == [7, 1, 2]
    assert draft(sequence, 10) == [7, 1, 2, 5, 6]


def test_the_longest_matching_end_wins_over_a_later_shorter_one() -> None:
    # The last three tokens "1 2 3" occurred at the start; "2 3" alone occurs later.
    sequence = [1, 2, 3, 4, 4, 9, 2, 3, 7, 1, 2, 3]

    assert draft(sequence, 2) == [4, 4]
    assert draft(sequence, 2, longest=2) == [7, 1]


def test_a_single_known_token_drafts_only_when_asked_to() -> None:
    assert draft([3, 8, 9, 1, 3], 2) == []
    assert draft([3, 8, 9, 1, 3], 2, shortest=1) == [8, 9]


def test_nothing_is_drafted_for_a_new_token_or_no_room() -> None:
    assert draft([1, 2, 3, 4], 5) == []
    assert draft([1, 2, 1, 2], 0) == []
    assert draft([1], 4) == []
    assert draft([], 4) == []


def test_text_is_let_through_a_whole_character_at_a_time() -> None:
    stream = TextStream()
    encoded = "√d_k".encode()

    assert stream.feed(encoded[:1]) == ""  # the first byte of three
    assert stream.feed(encoded[1:3]) == "√"
    assert stream.feed(encoded[3:]) == "d_k"
    assert stream.finish() == ""


def test_a_stop_string_ends_the_text_before_it() -> None:
    stream = TextStream(stop=["<|im_end|>"])

    assert stream.feed(b"The answer") == "The answer"
    assert stream.feed(b" is 4.<|im") == " is 4."  # "<|im" may begin the stop string
    assert not stream.stopped
    assert stream.feed(b"_end|> and more") == ""
    assert stream.stopped
    assert stream.feed(b"ignored") == ""
    assert stream.finish() == ""


def test_text_held_back_for_a_stop_string_that_never_came_is_given_later() -> None:
    stream = TextStream(stop=["User:"])

    assert stream.feed(b"Ask the Us") == "Ask the "  # "Us" may begin "User:"
    assert stream.feed(b"e") == ""  # so may "Use"
    assert stream.feed(b"d by") == "Used by"
    assert stream.feed(b" the User") == " the "
    assert stream.finish() == "User"


def test_the_earliest_of_several_stop_strings_ends_the_text() -> None:
    stream = TextStream(stop=["\n\n", "[END]"])

    assert stream.feed(b"one [END] two\n\nthree") == "one "
    assert stream.stopped
