"""Checking a model's answer sentence by sentence against the passages it cites."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ...ingest.chunking import sentence_spans
from ...ingest.metadata import DISTRICTS
from ...records import Answer, Citation, Filters, Hit
from ...zh import CN_BIG, CN_DIGIT, CN_UNIT, chinese_number
from ..answering import NOT_FOUND
from .prompt import glossary_lines, passage_header

# ------------------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class VerifyConfig:
    # Share of a sentence's distinct character bigrams that must occur in its cited passages.
    min_support: float = 0.6
    # The same for each clause (the parts between ，；), so a true clause cannot carry an invented one.
    min_clause_support: float = 0.5
    # A sentence citing several passages gets a citation for each whose best-matching sentence holds at
    # least this share of its bigrams (the best-matching passage is always cited).
    min_quote_overlap: float = 0.3


@dataclass(frozen=True)
class SentenceCheck:
    """The verdict on one sentence of the model's text."""

    sentence: str  # as the model wrote it, marks included
    cited: tuple[int, ...]  # the passage numbers its marks name
    support: float  # share of its character bigrams in the cited passages (0: nothing valid cited)
    missing_numbers: tuple[str, ...]  # numbers it states (as written) that the cited passages do not
    problem: str | None  # None: kept; else why it was flagged

    @property
    def kept(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Verification:
    answer: Answer
    checks: tuple[SentenceCheck, ...]
    raw: str  # the model's text, unchanged


_MARK = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[\]】］]")
_LEADING_MARKS = re.compile(r"^\s*(?:[\[【［]\s*\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*\s*[\]】］]\s*)+")
# "1. " "- " "2、" "(3)" "四、" at the start of a line: list numbering, not numbers the answer states.
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•·]\s|\d{1,2}\.\s|\d{1,2}[、)）]|[（(]\d{1,2}[)）]|[一二三四五六七八九十]+、)\s*")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_DIGIT_COMMA = re.compile(r"(?<=\d)[,，](?=\d{3})")
_CLAUSE_END = re.compile(r"[，,；;：:]")

# ---- numbers, in Arabic or Chinese numerals: 4000平方米 = 四千平方米 = 0.4万平方米; 百分之百 = 100%
_UNITS = r"%|平方公里|平方米|平米|公里|公顷|人次|户次|家次|[个家人名户次项处条所座栋辆台块场批期套间件元米年月日天岁倍张本亩]"
_QUANTITY = re.compile(
    r"(百分之)?(?:(\d+(?:\.\d+)?)\s*(万亿|亿|万)?|([零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?))"
    rf"\s*({_UNITS})?"
)
# Words written with numeral characters that state no number.
_NOT_NUMBERS = {
    "十分",
    "万一",
    "千万",
    "一一",
    "万万",
    "一再",
    "一直",
    "一起",
    "一切",
    "一般",
    "一致",
    "一同",
}


def _format_value(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


@dataclass(frozen=True)
class _Quantity:
    value: str  # canonical: 4000, 56000, 100
    unit: str  # "" when none follows
    start: int
    end: int
    surface: str  # as written


def _quantities(text: str) -> list[_Quantity]:
    """The numbers `text` states, each with its unit if one follows. `text` must be NFKC-normalised."""
    out: list[_Quantity] = []
    for m in _QUANTITY.finditer(text):
        percent, arabic, multiplier, chinese, unit = m.groups()
        unit = unit or ""
        if arabic is not None:
            value = float(arabic) * (10**12 if multiplier == "万亿" else CN_BIG.get(multiplier or "", 1))
        else:
            if chinese in _NOT_NUMBERS or not any(ch in CN_DIGIT or ch in CN_UNIT for ch in chinese):
                continue
            # A lone numeral character (一是, 进一步, 三会) is a word unless a unit or 百分之 says otherwise;
            # 一 with a unit (建成一座…, 一批) is mostly the article "a", not a count worth checking.
            if len(chinese) == 1 and not percent and (not unit or chinese == "一"):
                continue
            parsed = chinese_number(chinese)
            if parsed is None:
                continue
            value = parsed
        if percent:
            unit = "%"
        out.append(_Quantity(_format_value(value), unit, m.start(), m.end(), m.group(0)))
    return out


def _prepared(text: str) -> str:
    return _DIGIT_COMMA.sub("", unicodedata.normalize("NFKC", text))


def _with_canonical_numbers(text: str) -> str:
    """`text` with every number in one spelling (四千 -> 4000), so wording is compared, not numeral script."""
    text = _prepared(text)
    parts, last = [], 0
    for q in _quantities(text):
        parts += [text[last : q.start], q.value + q.unit]
        last = q.end
    return "".join(parts) + text[last:]


def _numbers(text: str, stated: bool = False) -> set[str]:
    """The numbers in `text`, canonical (1,580, 1580.0 and 一千五百八十 read as 1580), each with its unit.

    `stated=True` (for a sentence being checked): a number with a unit is listed only with its unit, so the
    passage must hold that pairing; a passage's numbers are listed both ways.
    """
    out: set[str] = set()
    for q in _quantities(_prepared(text)):
        if q.unit:
            out.add(q.value + q.unit)
        if not (q.unit and stated):
            out.add(q.value)
    return out


# ---- negation: 全年没有拆除 must not pass for 全年拆除. Words that only look negative are left out.
_NEGATION = re.compile(
    r"没有|没能|尚未|并未|从未|毫无|并非|未(?!来|知)|无(?!障碍|人机|缝|线|锡|偿|论)"
    r"|不(?!断|仅|少|同|但|论|管|久|良|光|只|禁|一|外|过|得不)"
)


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


# ---- named places and organisations: the street, district or body a sentence names must be in its passage
_NAME_SUFFIXES = ("街道", "镇", "居委会", "居民区", "委员会", "办事处", "管理局", "公司")
_NAMED = re.compile(rf"[\u4e00-\u9fff]{{2,10}}?(?:{'|'.join(_NAME_SUFFIXES)})")
_NOT_IN_NAMES = re.compile(r"[的在和与及各个哪该本这那全每指为是了由向对从等其将把被年月日区市省]")

# ---- what a report must not get to say through the model: links, phone numbers, instructions
_URL = re.compile(
    r"(?:https?://|www\.)[^\s，。；、）)\]】>\"']+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|io|xyz|top|info|cc)\b(?:/[^\s，。；]*)?",
    re.I,
)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)|(?<!\d)(?:0\d{2,3}|400|800)[- ]?\d{3,4}[- ]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_INSTRUCTION = re.compile(
    r"忽略|无视|(?:以上|之前|上述|先前|前面)的?(?:所有)?(?:指令|指示|规则|提示|要求)|系统提示|提示词"
    r"|ignore|disregard|instruction|system prompt"
    r"|请(?:立即|马上|务必)?(?:访问|点击|拨打|致电|联系|登录|扫码|下载|打开|转账|回复|发送)",
    re.I,
)


# Text addressed to a language model rather than to a report's readers: no report means it, so a passage
# holding it was planted, and nothing the answer takes from that passage's instructions, links or numbers
# to call is passed, verbatim or not.
_INJECTION = re.compile(
    r"(?:忽略|无视|忘记|不要理会|不用理会)(?:掉)?(?:以上|之前|上述|前面|先前|所有|全部|此前)"
    r"|ignore (?:all |any |the )?(?:previous|above|prior|earlier)|disregard (?:all |the )?(?:previous|above|prior)"
    r"|system prompt|系统提示|提示词|你现在是|you are now",
    re.I,
)


def _norm(text: str) -> str:
    """NFKC, lower case, only letters/digits/CJK kept: what bigrams are read from."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _wording(text: str) -> str:
    """What wording is compared on: numbers in one spelling, then `_norm`."""
    return _norm(_with_canonical_numbers(text))


def _bigrams(norm: str) -> set[str]:
    if len(norm) == 1:
        return {norm}
    return {norm[i : i + 2] for i in range(len(norm) - 1)}


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE_END.split(text) if c.strip()]


def _mark_numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", group.strip()):
        if m := re.fullmatch(r"(\d+)\s*[-–~]\s*(\d+)", part):
            a, b = int(m.group(1)), int(m.group(2))
            out.extend(range(a, b + 1) if 0 < b - a < 20 else (a, b))
        elif part.isdigit():
            out.append(int(part))
    return out


def answer_sentences(raw: str) -> list[str]:
    """The model's text cut into sentences; marks after a full stop (`……。[1][2]`) join their sentence."""
    text = _THINK.sub("", raw)
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_PREFIX.sub("", line)
        for a, b in sentence_spans(line):
            piece = line[a:b]
            lead = _LEADING_MARKS.match(piece)
            if lead and sentences:
                sentences[-1] += lead.group(0).strip()
                piece = piece[lead.end() :]
            if piece.strip():
                sentences.append(piece.strip())
    return sentences


def _is_not_found(norm: str) -> bool:
    target = _norm(NOT_FOUND)
    return target in norm and len(norm) <= len(target) + 8


def _reference_text(hit: Hit) -> str:
    """What a sentence citing this passage may draw on: the passage as the prompt showed it, less its [n]."""
    header = passage_header(0, hit).removeprefix("[0] ")
    return "\n".join([header, hit.chunk.text, *glossary_lines(hit)])


@dataclass(frozen=True)
class _PassageSentence:
    text: str
    start: int  # in the document's cleaned text
    end: int
    paragraph: int
    grams: frozenset[str]


def passage_sentences(hit: Hit) -> list[_PassageSentence]:
    """A chunk's sentences, paragraph by paragraph, with offsets in the cleaned document (as qa/extract.line_sentences)."""
    chunk = hit.chunk
    out: list[_PassageSentence] = []
    offset = 0
    for number, line in enumerate(chunk.text.split("\n")):
        for a, b in sentence_spans(line):
            piece = line[a:b]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            start = chunk.char_start + offset + a + lead
            out.append(
                _PassageSentence(
                    stripped,
                    start,
                    start + len(stripped),
                    chunk.para_start + number,
                    frozenset(_bigrams(_wording(stripped))),
                )
            )
        offset += len(line) + 1
    return out


class _Reference:
    """The cited passages of one sentence, read once: wording, numbers, clauses, plain text."""

    def __init__(self, text: str, body: str):
        self.text = text
        self.grams = _bigrams(_wording(text))
        self.numbers = _numbers(text)
        # Clauses of the passage with their negation, to compare a clause with its closest counterpart.
        self.clauses = [(frozenset(_bigrams(_wording(c))), _negated(c)) for c in _clauses(text)]
        self.body_plain = unicodedata.normalize("NFKC", body).lower()  # the report text alone, no header
        self.body_norm = _norm(body)
        self.named = _prepared(text)
        self.planted = bool(_INJECTION.search(unicodedata.normalize("NFKC", body)))


def _clause_problem(clause: str, refs: list[_Reference], config: VerifyConfig) -> str | None:
    wording = _wording(clause)
    if len(wording) < 4:
        return None  # 其中, 同时: too short to carry a claim of its own
    grams = _bigrams(wording)
    pool = set().union(*(r.grams for r in refs))
    support = len(grams & pool) / len(grams)
    if support < config.min_clause_support:
        return f"unsupported clause “{clause.strip()}”: {support:.0%} of its wording is in the cited passages"
    closest = max(((_dice(grams, g), neg) for r in refs for g, neg in r.clauses), default=(0.0, False))
    if closest[0] > 0 and closest[1] != _negated(clause):
        said = "negates" if _negated(clause) else "drops the negation of"
        return f"clause “{clause.strip()}” {said} what the cited passage says"
    return None


def _untrusted_problem(bare: str, refs: list[_Reference]) -> str | None:
    """Links, phone numbers, e-mail addresses and instructions pass only when the cited report text holds
    them verbatim: otherwise they are the model's (or a planted instruction's) doing."""
    plain = unicodedata.normalize("NFKC", bare).lower()
    if _INJECTION.search(plain):
        return "addresses the model (an injected instruction), not the question"
    trusted = [r for r in refs if not r.planted]
    for pattern, what in ((_URL, "a link"), (_PHONE, "a phone number"), (_EMAIL, "an e-mail address")):
        for m in pattern.finditer(plain):
            if not any(m.group(0) in r.body_plain for r in trusted):
                where = "a passage carrying planted instructions" if len(trusted) < len(refs) else "the cited passage"
                return f"{what} not in {where}: {m.group(0)}"
    for clause in _clauses(bare):
        if _INSTRUCTION.search(unicodedata.normalize("NFKC", clause)):
            if not any(_norm(clause) in r.body_norm for r in trusted):
                return f"an instruction not in the cited passage: “{clause.strip()}”"
    return None


def _names_problem(bare: str, refs: list[_Reference], places: Sequence[str]) -> str | None:
    """Every street, district or organisation the sentence names must be named in a cited passage."""
    text = _prepared(bare)
    named = "\n".join(r.named for r in refs)
    for m in _NAMED.finditer(text):
        name = m.group(0)
        suffix = next(s for s in _NAME_SUFFIXES if name.endswith(s))
        # The match may start early (2019年塘桥街道, 各街道): the name is what follows the last word
        # that cannot be part of one; 街道 used as a common noun leaves no name at all.
        stem = _NOT_IN_NAMES.split(name[: -len(suffix)])[-1]
        if len(stem) < 2:
            continue
        if not any(stem[i:] + suffix in named for i in range(len(stem) - 1)):
            return f"names “{stem}{suffix}”, which the cited passages do not"
    for place in places:
        short = _place_stem(place)
        if len(short) >= 2 and short in text and short not in named:
            return f"names {place}, which the cited passages do not"
    return None


def _place_stem(place: str) -> str:
    return re.sub(r"(街道|镇|新区|区)$", "", place)


def verify_answer(
    question: str,
    raw: str,
    hits: Sequence[Hit],
    filters: Filters | None = None,
    config: VerifyConfig | None = None,
    places: Sequence[str] = (),
) -> Verification:
    """Check each sentence of the model's text `raw` against the passages it cites (see the module doc).

    `places`: street and district names of the corpus; a sentence naming one its passages do not is dropped.
    """
    config = config or VerifyConfig()
    filters = filters or Filters()
    hits = tuple(hits)
    references = [_Reference(_reference_text(h), h.chunk.text) for h in hits]
    places = tuple(dict.fromkeys([*places, *DISTRICTS.values()]))
    sentences_of: dict[int, list[_PassageSentence]] = {}

    checks: list[SentenceCheck] = []
    kept: list[tuple[str, list[int]]] = []  # (sentence without marks, cited passage numbers)
    for sentence in answer_sentences(raw):
        cited = list(dict.fromkeys(n for m in _MARK.finditer(sentence) for n in _mark_numbers(m.group(1))))
        bare = _MARK.sub("", sentence).strip()
        norm = _norm(bare)
        if not norm:
            continue  # punctuation or marks alone
        if _is_not_found(norm):
            continue  # the model's NOT_FOUND reply (beside supported sentences it is simply dropped)
        problem: str | None = None
        support, missing = 0.0, ()
        invalid = [n for n in cited if not 1 <= n <= len(hits)]
        if not cited:
            problem = "no citation"
        elif invalid:
            problem = f"cites {', '.join(f'[{n}]' for n in invalid)}, not among the {len(hits)} passages"
        else:
            refs = [references[n - 1] for n in cited]
            grams = _bigrams(_wording(bare))
            pool = set().union(*(r.grams for r in refs))
            support = len(grams & pool) / len(grams)
            known = set().union(*(r.numbers for r in refs))
            missing = tuple(
                q.surface.strip()
                for q in _quantities(_prepared(bare))
                if (q.value + q.unit if q.unit else q.value) not in known
            )
            if missing:
                problem = f"numbers not in the cited passages: {', '.join(missing)}"
            elif support < config.min_support:
                problem = f"unsupported: {support:.0%} of its wording is in the cited passages"
            else:
                problem = (
                    _untrusted_problem(bare, refs)
                    or _names_problem(bare, refs, places)
                    or next(filter(None, (_clause_problem(c, refs, config) for c in _clauses(bare))), None)
                )
        checks.append(SentenceCheck(sentence, tuple(cited), support, missing, problem))
        if problem is None:
            kept.append((bare, cited))

    flagged = tuple(c.sentence for c in checks if not c.kept)
    if not kept:
        answer = Answer(question, NOT_FOUND, (), False, hits, filters, flagged)
        return Verification(answer, tuple(checks), raw)

    citations: list[Citation] = []
    by_place: dict[tuple[str, int], int] = {}
    parts: list[str] = []
    for bare, cited in kept:
        grams = _bigrams(_wording(bare))
        quotes: list[tuple[float, int, _PassageSentence]] = []  # (share of the sentence's bigrams, n, quote)
        for n in cited:
            if n not in sentences_of:
                sentences_of[n] = passage_sentences(hits[n - 1])
            candidates = sentences_of[n]
            if candidates:
                best = max(candidates, key=lambda s: (_dice(grams, s.grams), -len(s.text)))
                quotes.append((len(grams & best.grams) / len(grams), n, best))
        top = max((q[0] for q in quotes), default=0.0)
        marks: list[int] = []
        for share, n, best in quotes:
            if share < top and share < config.min_quote_overlap:
                continue  # a passage cited beside a better one that holds little of the sentence
            hit = hits[n - 1]
            place = (hit.chunk.doc_id, best.start)
            if place not in by_place:
                by_place[place] = len(citations) + 1
                citations.append(
                    Citation(
                        by_place[place],
                        hit.chunk.doc_id,
                        hit.meta.title,
                        hit.meta.street,
                        hit.chunk.section_path,
                        best.paragraph,
                        best.text,
                        best.start,
                        best.end,
                    )
                )
            if by_place[place] not in marks:
                marks.append(by_place[place])
        parts.append(bare + "".join(f"[{m}]" for m in marks))
    answer = Answer(question, "".join(parts), tuple(citations), True, hits, filters, flagged)
    return Verification(answer, tuple(checks), raw)


def _dice(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0
