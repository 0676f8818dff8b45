"""What learners asked, for course staff: ``GET /v1/insights`` and ``syllabus insights``.

:func:`gather` sums up a collection's question log (:mod:`service.feedback`) over its
last days: questions per day, how they were answered and how fast, the answers rated
unhelpful, the documents and sections cited most and the documents never cited, and
*what the materials miss*: the questions Syllabus abstained on or answered with little
confidence, grouped into topics by k-means over their embeddings.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from indexes import DocumentRecord, Embedder
from service.feedback import DAY_SECONDS, AnswerJournal, LoggedAnswer
from service.text import STOPWORDS, stem_words

LOW_CONFIDENCE_MARGIN = 0.10  # an answer whose best passage scored under threshold + this
MAX_TOPICS = 12
MAX_CLUSTERED = 5000  # distinct missed questions embedded (the newest): bounds the work
MERGE_COSINE = 0.5  # k-means splits a topic when k is generous; parts this close are one
NEAR_DUPLICATE = 0.92  # questions this close count once among a topic's representatives
REPRESENTATIVES = 3
MAX_TOPIC_QUESTIONS = 200
MAX_UNHELPFUL = 100
TOP_CITED = 20
LABEL_WORDS = 3
SECTION_SEPARATOR = " \u203a "  # a right-pointing angle quotation mark
_SEED = 1234
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # "RLHF's" is "rlhf", "s"
# Words every question uses, beside the usual stop words: they name no topic.
_QUESTION_WORDS = frozenset(
    """
    explain mean means meaning work works working difference example examples please tell
    use used using get make need needs want know understand define definition describe
    vs versus way ways thing things like give show exactly really actually possible
    intuition idea behind purpose role point main basic basics simple simply overview
    advantage advantages disadvantage disadvantages drawback drawbacks benefit benefits
    happen happens happening good bad better best
    """.split()  # noqa: SIM905 - a word list reads best as text
)


_LOW_CONFIDENCE = (
    "Answers whose model answer was rejected, or whose best passage scored under the "
    f"abstention threshold + {LOW_CONFIDENCE_MARGIN}."
)


class DayCount(BaseModel):
    day: date = Field(description="A day (UTC).")
    questions: int = Field(ge=0)


class Topic(BaseModel):
    """Questions the materials answered badly or not at all, on one subject."""

    label: str = Field(description="The topic's most distinctive words.", max_length=200)
    size: int = Field(ge=1, description="Questions asked on it, repeats included.")
    abstained: int = Field(ge=0, description="How many of them Syllabus abstained on.")
    representatives: list[str] = Field(max_length=REPRESENTATIVES)
    questions: list[str] = Field(
        max_length=MAX_TOPIC_QUESTIONS, description="Its distinct questions, most typical first."
    )


class UnhelpfulAnswer(BaseModel):
    asked_at: datetime
    question: str
    answer: str
    mode: str
    comment: str | None
    sources: list[str] = Field(description="The sources the answer cited.")


class CitedCount(BaseModel):
    source: str
    title: str
    section: str = Field("", description="Headings joined by ' \u203a '; empty for a document.")
    count: int = Field(ge=1, description="Answers that cite it.")


class UncitedDocument(BaseModel):
    doc_id: str
    source: str
    title: str


class Insights(BaseModel):
    """What learners asked of one collection over a period; ``GET /v1/insights``."""

    collection: str
    since: datetime
    until: datetime
    days: float = Field(gt=0)
    questions: int = Field(ge=0)
    answered: int = Field(ge=0)
    abstained: int = Field(ge=0)
    low_confidence: int = Field(ge=0, description=_LOW_CONFIDENCE)
    modes: dict[str, int] = Field(description="Answers per mode.")
    helpful: int = Field(ge=0)
    unhelpful: int = Field(ge=0)
    latency_median_ms: float | None
    latency_p90_ms: float | None
    per_day: list[DayCount]
    topics: list[Topic] = Field(max_length=MAX_TOPICS, description="Largest first.")
    unhelpful_answers: list[UnhelpfulAnswer] = Field(max_length=MAX_UNHELPFUL)
    cited_documents: list[CitedCount] = Field(max_length=TOP_CITED)
    cited_sections: list[CitedCount] = Field(max_length=TOP_CITED)
    never_cited: list[UncitedDocument]


def low_confidence(answer: LoggedAnswer) -> bool:
    """An answer given, but on weak evidence: the model's answer was rejected, or the best
    passage scored barely over the abstention threshold."""
    record = answer.record
    if record.mode == "abstained":
        return False
    if record.mode == "extractive" and record.rejected:
        return True
    if record.best_score is None or record.threshold is None:
        return False
    return record.best_score < record.threshold + LOW_CONFIDENCE_MARGIN


def gather(
    journal: AnswerJournal,
    folder: Path,
    embedder: Embedder,
    documents: Sequence[DocumentRecord],
    since_days: float,
    *,
    now: float | None = None,
) -> Insights:
    """The insights of the collection in ``folder`` over the last ``since_days`` days
    (up to ``now``, a Unix time; the present by default); ``documents`` are its documents."""
    until = time.time() if now is None else now
    since = until - since_days * DAY_SECONDS
    answers = [a for a in journal.answers(folder, since) if a.asked_at <= until]
    missed = [a for a in answers if a.record.mode == "abstained" or low_confidence(a)]
    latencies = [a.record.latency_ms for a in answers if a.record.latency_ms is not None]
    modes = Counter(a.record.mode for a in answers)
    return Insights(
        collection=folder.name,
        since=_utc(since),
        until=_utc(until),
        days=since_days,
        questions=len(answers),
        answered=len(answers) - modes["abstained"],
        abstained=modes["abstained"],
        low_confidence=sum(low_confidence(a) for a in answers),
        modes=dict(sorted(modes.items())),
        helpful=sum(a.helpful is True for a in answers),
        unhelpful=sum(a.helpful is False for a in answers),
        latency_median_ms=_percentile(latencies, 50),
        latency_p90_ms=_percentile(latencies, 90),
        per_day=_per_day(answers, until),
        topics=topics(missed, embedder),
        unhelpful_answers=_unhelpful(answers),
        cited_documents=_cited(answers, sections=False),
        cited_sections=_cited(answers, sections=True),
        never_cited=_never_cited(answers, documents),
    )


def _utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _per_day(answers: Sequence[LoggedAnswer], until: float) -> list[DayCount]:
    """Questions per UTC day, from the first question's day to today, empty days too."""
    if not answers:
        return []
    counts = Counter(_utc(a.asked_at).date() for a in answers)
    first, last = min(counts), _utc(until).date()
    span = (last - first).days + 1
    days = (first + timedelta(days=i) for i in range(span))
    return [DayCount(day=day, questions=counts[day]) for day in days]


def _unhelpful(answers: Sequence[LoggedAnswer]) -> list[UnhelpfulAnswer]:
    rated = sorted((a for a in answers if a.helpful is False), key=lambda a: -a.asked_at)
    return [
        UnhelpfulAnswer(
            asked_at=_utc(a.asked_at),
            question=a.record.question,
            answer=a.record.answer,
            mode=a.record.mode,
            comment=a.comment,
            sources=list(dict.fromkeys(c.source for c in a.record.cited)),
        )
        for a in rated[:MAX_UNHELPFUL]
    ]


def _cited(answers: Sequence[LoggedAnswer], *, sections: bool) -> list[CitedCount]:
    # An answer that cites three passages of one section counts once for it.
    counts: Counter[tuple[str, str, str]] = Counter()
    for answer in answers:
        counts.update(
            {
                (c.source, c.title, SECTION_SEPARATOR.join(c.heading_path) if sections else "")
                for c in answer.record.cited
            }
        )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_CITED]
    return [CitedCount(source=s, title=t, section=h, count=n) for (s, t, h), n in ranked]


def _never_cited(
    answers: Sequence[LoggedAnswer], documents: Sequence[DocumentRecord]
) -> list[UncitedDocument]:
    cited = {c.source for a in answers for c in a.record.cited}
    return [
        UncitedDocument(doc_id=d.doc_id, source=d.source, title=d.title)
        for d in sorted(documents, key=lambda d: (d.title.casefold(), d.source))
        if d.source not in cited
    ]


@dataclass
class _Question:
    """A distinct question (after case and spacing), with how often and how it was met."""

    text: str
    asked: int = 0
    abstained: int = 0


def _key(question: str) -> str:
    return " ".join(question.casefold().split())


def _distinct(missed: Iterable[LoggedAnswer]) -> list[_Question]:
    found: dict[str, _Question] = {}
    for answer in sorted(missed, key=lambda a: -a.asked_at):  # the newest wording wins
        key = _key(answer.record.question)
        if key not in found:
            if len(found) == MAX_CLUSTERED:
                continue
            found[key] = _Question(answer.record.question.strip())
        found[key].asked += 1
        found[key].abstained += answer.record.mode == "abstained"
    return list(found.values())


def topics(missed: Sequence[LoggedAnswer], embedder: Embedder) -> list[Topic]:
    """The questions in ``missed`` grouped by subject, largest topic first."""
    questions = _distinct(missed)
    if not questions:
        return []
    vectors = np.ascontiguousarray(embedder.embed([q.text for q in questions]), np.float32)
    weights = np.array([q.asked for q in questions], dtype=np.float32)
    groups = [
        _typical(vectors, weights, members)
        for members in _merge(vectors, weights, _kmeans(vectors, weights))
    ]
    labels = _labels([[questions[i].text for i in members] for members in groups])
    found = [
        _topic(questions, vectors, members, label)
        for members, label in zip(groups, labels, strict=True)
    ]
    return sorted(found, key=lambda t: (-t.size, t.label))[:MAX_TOPICS]


def _kmeans(vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32]) -> list[int]:
    """Each vector's cluster; k grows with the square root of the number of questions."""
    n = len(vectors)
    k = max(1, min(MAX_TOPICS, n, round(math.sqrt(2 * n))))
    if k == 1:
        return [0] * n
    import faiss

    # k <= n and one point per centroid suffice: faiss has nothing to warn about.
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=25,
        nredo=5,
        seed=_SEED,
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, n),
        init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS,
        verbose=False,
    )
    kmeans.train(vectors, weights=weights)
    _, nearest = kmeans.index.search(vectors, 1)
    return [int(c) for c in nearest[:, 0]]


def _centroid(
    vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32], members: list[int]
) -> npt.NDArray[np.float32]:
    mean = (vectors[members] * weights[members, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def _merge(
    vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32], assigned: list[int]
) -> list[list[int]]:
    """The clusters' members, the closest two clusters joined while their centroids are
    near."""
    by_cluster: dict[int, list[int]] = {}
    for index, cluster in enumerate(assigned):
        by_cluster.setdefault(cluster, []).append(index)
    groups = list(by_cluster.values())
    while len(groups) > 1:
        centroids = np.stack([_centroid(vectors, weights, g) for g in groups])
        similar = centroids @ centroids.T
        np.fill_diagonal(similar, -np.inf)
        a, b = np.unravel_index(int(np.argmax(similar)), similar.shape)
        if similar[a, b] < MERGE_COSINE:
            break
        groups[min(a, b)].extend(groups.pop(max(a, b)))
    return groups


def _typical(
    vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32], members: list[int]
) -> list[int]:
    """The members, nearest to their centroid first."""
    centre = _centroid(vectors, weights, members)
    return sorted(members, key=lambda i: (-float(vectors[i] @ centre), i))


def _topic(
    questions: Sequence[_Question], vectors: npt.NDArray[np.float32], typical: list[int], label: str
) -> Topic:
    return Topic(
        label=label,
        size=sum(questions[i].asked for i in typical),
        abstained=sum(questions[i].abstained for i in typical),
        representatives=[questions[i].text for i in _representatives(vectors, typical)],
        questions=[questions[i].text for i in typical[:MAX_TOPIC_QUESTIONS]],
    )


def _representatives(vectors: npt.NDArray[np.float32], typical: list[int]) -> list[int]:
    chosen: list[int] = []
    for index in typical:
        if all(float(vectors[index] @ vectors[c]) < NEAR_DUPLICATE for c in chosen):
            chosen.append(index)
            if len(chosen) == REPRESENTATIVES:
                break
    return chosen


def _words(text: str) -> list[str]:
    words = _WORD.findall(text.casefold())
    return [w for w in words if w not in STOPWORDS and w not in _QUESTION_WORDS and len(w) > 1]


def _stems(texts: Sequence[str]) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """How many of the texts use each stem (in order of first use), and its spellings."""
    used: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for text in texts:
        words = _words(text)
        stems = stem_words(words)
        for word, stem in zip(words, stems, strict=True):
            spellings.setdefault(stem, Counter())[word] += 1
        used.update(dict.fromkeys(stems, 1))
    return used, spellings


def _labels(groups: Sequence[Sequence[str]]) -> list[str]:
    """Each group's label: the words most of its questions use and few other groups do
    (counted by stem, shown as most often spelt; ties go to the word met first, the
    questions being in order of how typical they are)."""
    counted = [_stems(texts) for texts in groups]
    spread = Counter(stem for used, _ in counted for stem in used)
    labels = []
    for used, spellings in counted:
        rank = {stem: n * math.log(1 + len(groups) / spread[stem]) for stem, n in used.items()}
        best = sorted(rank, key=lambda stem: -rank[stem])[:LABEL_WORDS]  # a stable sort
        words = [spellings[stem].most_common(1)[0][0] for stem in best]
        labels.append(" · ".join(words) or "(no words)")
    return labels
