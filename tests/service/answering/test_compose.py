"""Step 3: the best answer unit of the passages, quoted and cited."""

from __future__ import annotations

from dataclasses import replace

from indexes import Embedder
from service.answering.compose import (
    Unit,
    UnitWeights,
    _amounts_of,
    _defines,
    _gives_amount,
    adds_to,
    answer_units,
    best_unit,
    compared,
    compose,
    defined,
    further_unit,
    in_reading_order,
    mentions,
    paragraphs,
)
from tests.fakes import FakeEmbedder
from tests.paths import DEMO_CORPUS
from tests.service.answering.helpers import hit

GATES = (
    "An LSTM has three gates that control its cell state:\n\n"
    "- Forget gate: decides how much of the old cell state to keep. 1 keeps everything.\n"
    "- Input gate: decides how much new information to write.\n\n"
    "The GRU simplifies the LSTM with two gates."
)


def test_a_list_and_a_formula_join_the_paragraph_that_announces_them() -> None:
    text = "The chain rule handles compositions. If y = f(g(x)), then\n\n$dy/dx = f'(g(x)) g'(x)$"
    assert paragraphs(text) == [
        ["The chain rule handles compositions.", "If y = f(g(x)), then", "$dy/dx = f'(g(x)) g'(x)$"]
    ]
    inline = "Three gates control it: - Forget gate: keeps. - Input gate: writes."
    assert paragraphs(inline)[0][1:] == ["- Forget gate: keeps.", "- Input gate: writes."]


def test_a_list_after_a_formula_joins_it() -> None:
    """Learner dev set: "what does temperature do to the softmax" quoted the formula without
    the list after it that says what T < 1 and T > 1 do."""
    text = (
        "Temperature T rescales the logits:\n\n$p_i = \\exp(z_i / T) / Z$\n\n"
        "- T < 1 sharpens it.\n- T > 1 flattens it.\n\nTop-k sampling keeps k tokens."
    )
    assert paragraphs(text) == [
        [
            "Temperature T rescales the logits:",
            "$p_i = \\exp(z_i / T) / Z$",
            "- T < 1 sharpens it.",
            "- T > 1 flattens it.",
        ],
        ["Top-k sampling keeps k tokens."],
    ]
    apart = "Temperature T rescales the logits.\n\n- T < 1 sharpens it."
    assert len(paragraphs(apart)) == 2  # a list after a sentence stands on its own


def test_the_unit_is_the_list_item_that_answers_not_a_sentence_naming_the_model() -> None:
    unit = best_unit(FakeEmbedder(), "What does the forget gate do?", [hit(GATES)])
    assert unit is not None
    assert "Forget gate: decides how much of the old cell state to keep" in unit.text
    assert "GRU" not in unit.text
    assert compose(unit).endswith("[1]")


def test_a_unit_never_ends_on_a_sentence_that_announces_what_follows() -> None:
    text = "Adam applies bias correction:\n\n$\\hat m = m / (1 - \\beta^t)$\n\nIt matters early."
    unit = best_unit(FakeEmbedder(), "how does adam bias correction work", [hit(text)])
    assert unit is not None and not unit.text.rstrip().endswith(":")


def test_a_unit_starts_where_its_sentences_can_be_understood() -> None:
    text = (
        "Training on a narrow dataset can overwrite general abilities. "
        "This is catastrophic forgetting.\n\nReciprocal rank fusion merges rankings:\n\n"
        "$RRF(d) = \\sum_r 1 / (k + rank_r(d))$\n\nwith k = 60 as the usual constant."
    )
    forgetting = best_unit(FakeEmbedder(), "what is catastrophic forgetting", [hit(text)])
    assert forgetting is not None
    assert forgetting.text.startswith("Training on a narrow dataset")
    fusion = best_unit(FakeEmbedder(), "rrf formula", [hit(text)])
    assert fusion is not None and fusion.text.endswith("with k = 60 as the usual constant.")


def test_the_heading_that_matches_the_question_picks_its_section() -> None:
    hits = [
        hit("Dot products grow with the dimension.", heading="Attention > Cost"),
        hit(
            "Dot products grow with the dimension, so softmax saturates.",
            heading="Attention > Why divide by sqrt(d_k)?",
        ),
    ]
    unit = best_unit(FakeEmbedder(), "why divide by sqrt d_k?", hits)
    assert unit is not None and unit.passage == 2


def test_short_style_quotes_one_sentence_and_descriptions_of_the_notes_are_never_quoted() -> None:
    text = (
        "This note covers the forget gate and more. The forget gate keeps the cell state. "
        "The forget gate bias starts at 1."
    )
    unit = best_unit(FakeEmbedder(), "what does the forget gate keep", [hit(text)], style="short")
    assert unit is not None and len(unit.sentences) == 1
    assert "This note" not in unit.text


def test_a_sentence_shared_by_overlapping_chunks_is_quoted_once() -> None:
    shared = "The forget gate decides what the cell state drops."
    hits = [
        hit(f"{shared} The input gate adds new values."),
        hit(f"Cells carry gradients. {shared}"),
    ]
    unit = best_unit(FakeEmbedder(), "What does the forget gate drop?", hits)
    assert unit is not None and unit.passage == 1 and compose(unit).count("forget gate") == 1


def test_the_unit_is_quoted_beneath_an_answer_only_when_it_says_more() -> None:
    unit = Unit(("Forget gate: decides how much of the old cell state to keep.",), 1, 0.9)
    assert adds_to(unit, "It is a gate of the LSTM [1].")
    assert not adds_to(unit, "The forget gate decides how much of the old cell state to keep [1].")


def _section(note: str, heading: str) -> str:
    """The text under ``## heading`` in one of the demo notes, read in place."""
    text = (DEMO_CORPUS / note).read_text(encoding="utf-8")
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0].strip()


def test_inline_formulas_do_not_hide_the_unit_that_answers(real_embedder: Embedder) -> None:
    # The forget gate's list item is mostly LaTeX; the GRU paragraph names the forget gate
    # and the LSTM in plain words and read closer to the question when formulas counted.
    hits = [
        hit(_section("rnns-and-lstms.md", "GRU"), heading="GRU"),
        hit(_section("rnns-and-lstms.md", "LSTM: Gates and the Cell State"), heading="LSTM"),
    ]
    unit = best_unit(real_embedder, "What does the forget gate in an LSTM do?", hits)
    assert unit is not None and unit.passage == 2
    assert "Forget gate:" in unit.text and "gated recurrent unit" not in unit.text
    chain = [hit(_section("calculus.md", "The Chain Rule"), heading="The Chain Rule")]
    rule = best_unit(real_embedder, "What is the chain rule?", chain)
    assert rule is not None and "f'(g(x)) \\cdot g'(x)" in rule.text


def test_the_two_things_a_comparison_sets_side_by_side() -> None:
    assert compared("whats the difference between lora and qlora") == ("lora", "qlora")
    assert compared("difference between a bi encoder and a cross encoder?") == (
        "bi encoder",
        "cross encoder",
    )
    assert compared("lstm vs gru which is better") == ("lstm", "gru")
    assert compared("bm25 or dense retrieval for rag?") == ("bm25", "dense retrieval")
    assert compared("How does LoRA compare to full fine-tuning?") == ("LoRA", "full fine-tuning")
    assert compared("What does the forget gate do?") is None
    assert compared("why use more or less data") is None  # "more" names nothing


def test_a_name_is_named_however_it_is_written_but_not_inside_another() -> None:
    assert mentions("Pre-LN keeps a clean identity path.", "pre ln")
    assert mentions("Batch norm remains common in CNNs.", "batchnorm")
    assert mentions("Layer normalisation normalises each example.", "layernorm")
    assert mentions("LSTMs are sometimes better.", "lstm")
    assert not mentions("QLoRA keeps the base in 4-bit.", "lora")


def test_a_comparison_is_answered_from_both_sides() -> None:
    hits = [
        hit("LoRA trains a tiny set of extra weights. It keeps the base frozen."),
        hit("QLoRA keeps the frozen base in 4-bit. That makes it slower than LoRA in bf16."),
    ]
    units = answer_units(FakeEmbedder(), "whats the difference between lora and qlora", hits)
    assert [u.passage for u in units] == [1, 2]
    assert compose(units).endswith("slower than LoRA in bf16. [2]") and "[1]\n\n" in compose(units)
    # One sentence that sets both side by side is the answer alone; other questions get one unit.
    both = [hit("Neither LSTM nor GRU consistently wins."), hit("A GRU has two gates.")]
    assert len(answer_units(FakeEmbedder(), "lstm vs gru which is better", both)) == 1
    assert len(answer_units(FakeEmbedder(), "what is qlora", hits)) == 1
    assert len(answer_units(FakeEmbedder(), "lora vs qlora", hits, style="short")) == 1


def test_the_notes_are_asked_about_both_sides_of_a_comparison(real_embedder: Embedder) -> None:
    hits = [
        hit(_section("lora-and-qlora.md", "Which Matrices to Adapt"), heading="Which Matrices"),
        hit(_section("lora-and-qlora.md", "QLoRA"), heading="QLoRA"),
    ]
    units = answer_units(real_embedder, "whats the difference between lora and qlora", hits)
    assert "quantized to 4 bits" in compose(units)  # QLoRA's side, which the first passage lacks
    # The section describes each in its own paragraph: the learner reads both.
    norms = _section(
        "loss-functions-and-regularization.md", "Batch Normalization and Layer Normalization"
    )
    sides = compose(answer_units(real_embedder, "batchnorm vs layernorm", [hit(norms)]))
    assert "across the batch" in sides and "each individual example" in sides


def test_a_worked_example_that_names_both_sides_is_no_comparison(real_embedder: Embedder) -> None:
    """Seen on the demo page: "What is the difference between BM25 and dense retrieval?"
    was answered with "Worked example: a chunk ranked 1st by BM25 and 3rd by dense
    retrieval scores 1/61 + 1/63", which names both and describes neither."""
    hybrid = _section(
        "retrieval-augmented-generation.md", "Hybrid Search and Reciprocal Rank Fusion"
    )
    question = "What is the difference between BM25 and dense retrieval?"
    sides = compose(answer_units(real_embedder, question, [hit(hybrid, heading="Hybrid Search")]))
    assert "Worked example" not in sides
    assert "exact keywords" in sides and "paraphrase" in sides


def test_beneath_a_generated_answer_a_further_unit_says_what_the_draft_left_out(
    real_embedder: Embedder,
) -> None:
    hits = [
        hit(_section("decoding-and-sampling.md", "Greedy Decoding"), heading="Greedy Decoding"),
        hit(_section("decoding-and-sampling.md", "Beam Search"), heading="Beam Search"),
    ]
    question = "greedy decoding vs beam search"
    units = answer_units(real_embedder, question, hits)
    answer = "Greedy decoding picks the most probable token [1]; beam search keeps several [2]."
    shown = "\n\n".join([answer, *(u.text for u in units)])
    assert "partial sequences" not in shown  # beam search's own definition
    further = further_unit(real_embedder, question, hits, units, shown)
    assert further is not None and further.passage == 2
    assert "partial sequences" in further.text
    assert not set(further.sentences) & {s for u in units for s in u.sentences}
    # Beneath the answer, units of one passage read in its order: the definition first.
    order = in_reading_order([*units, further], hits)
    assert [u.passage for u in order] == sorted(u.passage for u in order)
    assert all(order.index(further) < order.index(u) for u in units if u.passage == 2)
    # Nothing further when what is shown already says it, or nothing reads close enough.
    assert further_unit(real_embedder, question, hits, units, f"{shown}\n\n{further.text}") is None
    assert further_unit(real_embedder, "what is the capital of france", hits, [], "") is None


def test_a_list_of_bare_names_is_no_further_unit() -> None:
    # Beneath "How does early stopping work?" the demo quoted "- Early stopping. - A smaller
    # model, or fewer epochs." from a list of remedies: it explains nothing.
    answer = (
        "Early stopping watches the validation loss during training.",
        "It keeps the checkpoint with the best value and stops after a patience of evaluations.",
    )
    hits = [hit(" ".join(answer)), hit("- Early stopping.\n- A smaller model, or fewer epochs.")]
    question = "How does early stopping work?"
    draft = [Unit(answer, 1, 1.5)]
    weights = UnitWeights(further=-1.0)  # whatever its score
    assert further_unit(FakeEmbedder(), question, hits, draft, "", weights=weights) is None
    listed = UnitWeights(further=-1.0, min_chars=0)
    unit = further_unit(FakeEmbedder(), question, hits, draft, "", weights=listed)
    assert unit is not None and unit.passage == 2


def test_a_short_sentence_is_no_unit_where_its_paragraph_goes_on() -> None:
    text = (
        "The chain rule handles compositions. "
        "The derivative of an outer function of an inner one is the outer derivative "
        "times the inner derivative. Frameworks apply it from the loss backwards."
    )
    unit = best_unit(FakeEmbedder(), "What is the chain rule?", [hit(text)])
    assert unit is not None and unit.sentences[0] == "The chain rule handles compositions."
    assert "times the inner derivative" in unit.text
    alone = best_unit(FakeEmbedder(), "What is the chain rule?", [hit(text)], style="short")
    assert alone is not None and len(alone.sentences) == 1  # short answers stay one sentence


def test_a_follow_up_gets_the_unit_of_the_topic_it_follows() -> None:
    """ "does it make generation faster too?" names no subject; the turn before does."""
    speed = hit(
        "Quantization stores each weight of a model in 4 bits. Reading 4-bit weights moves a "
        "quarter of the bytes, so generation runs up to 3 to 4 times faster.",
        heading="Quantization",
    )
    other = hit(
        "Speculative decoding makes generation faster: a small drafter proposes tokens "
        "for the large network to check.",
        heading="Speculative decoding",
    )
    question = "does it make generation faster too?"
    topic = f"what does quantization do to a model\n{question}"
    chosen = answer_units(FakeEmbedder(), question, [other, speed], topic=topic)
    assert chosen[0].passage == 2
    assert answer_units(FakeEmbedder(), question, [other, speed])[0].passage == 1


def test_a_side_is_described_where_it_is_named_alone_not_in_an_example_of_both() -> None:
    """ "the difference between BM25 and dense retrieval": dense retrieval's side is its own
    description, not the fusion worked example that ranks a chunk by both."""
    example = hit(
        "Worked example: dense retrieval ranks a chunk 3rd and BM25 ranks it 1st; dense "
        "retrieval fusion gives 1/61 + 1/63.",
        heading="Dense retrieval fusion",
    )
    own = hit("Dense retrieval matches meaning and paraphrase with embeddings.", heading="Notes")
    side = "dense retrieval"
    hits = [example, own]
    named = best_unit(FakeEmbedder(), side, hits, mentioning=side)
    assert named is not None and named.passage == 1  # the example reads closest to the name
    alone = best_unit(FakeEmbedder(), side, hits, mentioning=side, alone="BM25")
    assert alone is not None and alone.passage == 2
    only_both = best_unit(FakeEmbedder(), side, [example], mentioning=side, alone="BM25")
    assert only_both is not None  # where no unit names it alone, one naming both will do


def test_a_section_whose_heading_names_the_question_is_answered_from_its_opening(
    real_embedder: Embedder,
) -> None:
    """Under "Merging Adapters" the notes say first what merging is ("the update can be
    folded into the base weights"), in words that read less like "how do i merge my lora
    adapter" than the pitfalls after it do."""
    section = hit(_section("lora-and-qlora.md", "Merging Adapters"), heading="Merging Adapters")
    question = "how do i merge my lora adapter back into the model"
    later = best_unit(real_embedder, question, [section])
    assert later is not None and not later.text.startswith("After training")
    opening = best_unit(real_embedder, question, [replace(section, opens_section=True)])
    assert opening is not None and opening.text.startswith("After training, the update can be")
    elsewhere = hit(_section("lora-and-qlora.md", "Merging Adapters"), heading="Pitfalls")
    other = best_unit(real_embedder, question, [replace(elsewhere, opens_section=True)])
    assert other is not None and other.text == later.text  # a heading not named adds nothing


def test_a_question_that_asks_for_a_formula_is_answered_with_the_line_that_states_it(
    real_embedder: Embedder,
) -> None:
    """Prose about dot products reads closer to "whats the formula for scaled dot product
    attention" than the formula line and its lead-in do, even where they open the section."""
    section = _section("attention.md", "Scaled Dot-Product Attention")
    stated, rest = section.split("### Why divide by sqrt(d_k)?", 1)
    versus = rest.split("### Additive versus dot-product attention", 1)[1]
    hits = [
        replace(hit(stated.strip(), heading="Scaled Dot-Product Attention"), opens_section=True),
        hit(versus.strip(), heading="Additive versus dot-product attention"),
    ]
    question = "whats the formula for scaled dot product attention"
    prose = best_unit(real_embedder, question, hits, weights=UnitWeights(formula=0.0))
    assert prose is not None and "\\mathrm{Attention}(Q, K, V)" not in prose.text
    unit = best_unit(real_embedder, question, hits)
    assert unit is not None and "\\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}" in unit.text


def test_a_question_asking_how_big_is_answered_by_the_unit_that_gives_the_size(
    real_embedder: Embedder,
) -> None:
    """ "How big should my chunks be for RAG?" quoted "Most RAG problems turn out to be
    retrieval problems: if the right chunk is not retrieved, …", which reads as close to
    the question as the sizes do."""
    hits = [
        hit(_section("retrieval-augmented-generation.md", name), heading=name)
        for name in ("Evaluating a RAG System", "Chunk Size and Overlap")
    ]
    question = "How big should my chunks be for RAG?"
    near = best_unit(real_embedder, question, hits, weights=UnitWeights(amount=0.0))
    assert near is not None and near.text.startswith("Most RAG problems")
    unit = best_unit(real_embedder, question, hits)
    assert unit is not None and "200 to 500 tokens per chunk" in unit.text


def test_only_a_number_beside_what_the_question_counts_gives_its_amount() -> None:
    chunks = _amounts_of("How big should my chunks be for RAG?")
    assert chunks == {"chunk", "rag"}
    assert _gives_amount("Typical starting points are 200 to 500 tokens per chunk.", chunks)
    assert not _gives_amount("Build a test set of 50 to 200 realistic questions.", chunks)
    assert not _amounts_of("Why do chunks need overlap?")


def test_a_what_is_question_is_answered_by_the_unit_whose_subject_it_names(
    real_embedder: Embedder,
) -> None:
    """ "What is top-p sampling?" quoted "The usual order is: penalties, temperature, top-k,
    top-p, then sample", which names it in a list, not the sentence that defines it."""
    heading = "Top-k and Top-p (Nucleus) Sampling"
    hits = [hit(_section("decoding-and-sampling.md", heading), heading=heading)]
    question = "What is top-p sampling?"
    listed = best_unit(real_embedder, question, hits, weights=UnitWeights(definition=0.0))
    assert listed is not None and listed.text.startswith("The usual order is")
    unit = best_unit(real_embedder, question, hits)
    assert unit is not None and unit.text.startswith("Top-p (nucleus) sampling")


def test_what_a_what_is_question_defines_and_the_units_that_open_on_it() -> None:
    assert defined("What is top-p sampling?") == "top-p sampling"
    assert defined("what does mrr mean for retrieval") == "mrr"
    assert defined("what is rope in llama") == "rope"
    assert defined("What is the difference between LSTM and GRU?") is None
    assert _defines("GGUF (introduced in 2023) is a single-file binary format.", "gguf file")
    assert not _defines("So one .gguf file is a complete, portable model.", "gguf file")
    assert not _defines("The usual order is: temperature, top-k, top-p.", "top-p sampling")
