"""Reading evaluation datasets: our JSONL, the scientific-paper QA format and SQuAD."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import datasets
from eval.datasets import DatasetError, Item
from tests.paths import PROJECT

EXAMPLE = PROJECT / "eval" / "examples" / "course-questions.jsonl"


def write_lines(path: Path, *lines: object) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_own_jsonl_with_defaults(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mine.jsonl",
        {"question": " What is LoRA? ", "answers": ["low-rank adaptation"]},
        {"id": "x", "question": "Capital of Mars?"},
        {"id": "y", "question": "KV cache?", "answerable": True, "sources": ["vllm.md"]},
    )
    data = datasets.load(str(path))
    first, second, third = data.items
    assert (first.id, first.question, first.answerable) == ("1", "What is LoRA?", True)
    assert not second.answerable and second.answers == ()
    assert third.answerable and third.sources == ("vllm.md",)
    assert data.corpus == {}  # asked about an existing collection
    assert data.describe()["unanswerable"] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"answers": ["x"]}', "line 2: 'question' must be a non-empty string"),
        ('{"question": "q", "answers": "x"}', "line 2: 'answers' must be a list of strings"),
        ('{"question": "q", "answerable": "yes"}', "line 2: 'answerable' must be true or false"),
        ("{not json", "line 2: not JSON"),
    ],
)
def test_bad_lines_are_reported_with_their_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        datasets.load(str(path))


def test_learner_fields_are_read(tmp_path: Path) -> None:
    history = [
        {"role": "user", "content": "what is an lstm?"},
        {"role": "assistant", "content": "A recurrent network with gates [1]."},
    ]
    path = write_lines(
        tmp_path / "learner.jsonl",
        {"question": "its forget gate?", "kind": "followup", "history": history,
         "key_points": [" cell state ", ""], "sources": ["rnns-and-lstms.md"], "split": "dev"},
        {"question": "what is splade?", "kind": "uncovered", "answerable": False,
         "absent_term": "SPLADE", "split": "dev"},
    )  # fmt: skip
    data = datasets.load(str(path))
    followup, uncovered = data.items
    assert followup.key_points == ("cell state",)
    assert followup.answerable  # key points make a question answerable
    assert followup.history == (
        ("user", "what is an lstm?"),
        ("assistant", "A recurrent network with gates [1]."),
    )
    assert (followup.kind, uncovered.kind) == ("followup", "uncovered")
    assert uncovered.key_points == () and uncovered.history == ()
    assert data.split == "dev" and data.describe()["split"] == "dev"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": "q", "key_points": "x"}', "line 2: 'key_points' must be a list of strings"),
        (
            '{"question": "q", "answerable": false, "key_points": ["x"]}',
            "line 2: an unanswerable question has no 'key_points'",
        ),
        ('{"question": "q", "history": {"role": "user"}}', "line 2: 'history' must be a list"),
        (
            '{"question": "q", "history": [{"role": "system", "content": "x"}]}',
            "line 2: history turn 1: 'role' must be 'user' or 'assistant', not 'system'",
        ),
        (
            '{"question": "q", "history": [{"role": "user", "content": " "}]}',
            "line 2: history turn 1: 'content' must be a non-empty string",
        ),
        (
            '{"question": "q", "history": [{"role": "user", "text": "x"}]}',
            "line 2: history turn 1 must be an object with exactly 'role' and 'content'",
        ),
        ('{"question": "q", "kind": "trivia"}', "line 2: 'kind' must be one of why, how, "),
        ('{"question": "q", "split": 3}', "line 2: 'split' must be a non-empty string"),
        ('{"question": "q", "split": "test"}', r"one split, this one has 'all' \(line 1\), 'test'"),
    ],
)
def test_bad_learner_fields_are_reported_with_their_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        datasets.load(str(path))


def test_missing_dataset_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no dataset"):
        datasets.load(str(tmp_path / "nothing.jsonl"))


def test_the_example_dataset_reads() -> None:
    data = datasets.load(str(EXAMPLE))
    assert len(data.items) == 10
    assert sum(not i.answerable for i in data.items) == 3


def test_scientific_format_makes_papers_the_corpus(tmp_path: Path) -> None:
    paper = {
        "input": "We train a small model. It uses ReLU activations.",
        "instructions": ["Which activation?", "Is it supervised?", "Which GPU?", "How big?"],
        "outputs": ["ReLU", "Yes", "Unanswerable", "a small model, trained on one GPU"],
    }
    data = datasets.load(str(write_lines(tmp_path / "sci.jsonl", paper)))
    assert data.name == "scientific-qa"
    assert data.corpus == {"paper-00.txt": paper["input"]}
    relu, yes, unknown, free_form = data.items
    assert free_form.answerable and not free_form.judged_retrieval  # not in the paper verbatim
    assert relu.answers == ("ReLU",) and relu.judged_retrieval and relu.document == "paper-00.txt"
    assert yes.answerable and not yes.judged_retrieval  # "yes" marks no passage
    assert not unknown.answerable and unknown.answers == ()


def test_sample_is_fixed_half_unanswerable_and_in_order() -> None:
    items = [Item(str(i), "?", answerable=i % 4 != 0) for i in range(40)]
    drawn = datasets.sample(items, 10, seed=3)
    assert drawn == datasets.sample(items, 10, seed=3)
    assert sum(not i.answerable for i in drawn) == 5
    assert [int(i.id) for i in drawn] == sorted(int(i.id) for i in drawn)
    assert datasets.sample(items, None) == items


def test_squad_splits_from_the_shared_data(shared_dir: Path) -> None:
    path = shared_dir / "data" / "squad2" / "dev-v2.0.reconstructed.json"
    dev, test = datasets.load(str(path), "dev"), datasets.load(str(path), "test")
    assert len(dev.corpus) == 18 and len(test.corpus) == 17
    assert not set(dev.corpus) & set(test.corpus)
    assert {i.document for i in test.items} <= set(test.corpus)
    assert any(not i.answerable for i in test.items)
    with pytest.raises(DatasetError, match=r"dev .* and test"):
        datasets.load(str(path), "train")
