"""Optional LLM answerers: a model writes the answer from the retrieved passages; each sentence is checked.

Offline by default: nothing here runs unless a caller (or `govqa ask --llm ...`) picks a backend.

    >>> from govqa.qa.generation import LLMAnswerer, OpenAIBackend, TransformersBackend
    >>> backend = OpenAIBackend.from_env()  # GOVQA_LLM_BASE_URL, _MODEL, _API_KEY    # doctest: +SKIP
    >>> backend = TransformersBackend("/models/Qwen2.5-0.5B-Instruct")              # doctest: +SKIP
    >>> llm = LLMAnswerer(qa.retriever, backend, k=5)                               # doctest: +SKIP
    >>> llm.answer("塘桥街道2019年拆除了多少违章建筑?")                              # doctest: +SKIP
    >>> stream = llm.stream("塘桥街道2019年拆除了多少违章建筑?")                     # doctest: +SKIP
    >>> for piece in stream: print(piece, end="")  # the model's raw text, as written  # doctest: +SKIP
    >>> stream.answer                               # then the verified Answer        # doctest: +SKIP

Backends (anything with `complete(messages) -> str` and `stream(messages) -> Iterator[str]` will do):

* `OpenAIBackend`: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, hosted Qwen/DeepSeek),
  spoken with the standard library only; `stream` reads the server-sent events of `"stream": true`.
* `TransformersBackend`: a local causal LM by path, greedy decoding, streamed with `TextIteratorStreamer`.

The prompt. Each passage sits between an opening and a closing line carrying a random token, so report text
cannot forge a passage or its header; the model is told the passages are data, not instructions. Glossary
entries (名词解释) of the terms a passage marks with a footnote follow its text. An optional question `kind`
(list, cross_street, ...) adds how to shape the answer.

Verification (`verify_answer`). The model's text is split into sentences; a citation mark written after the
sentence's full stop (`……。[1]`) belongs to that sentence. A sentence is kept only if

1. it cites at least one passage, and every mark [n] names a passage that was given (1 <= n <= hits);
2. every number in it occurs, with its unit, in the cited passages - Arabic or Chinese numerals, 万/亿
   and 百分之 read as values (四千平方米 = 4000平方米, 1.2万 = 12000, 百分之百 = 100%);
3. at least `min_support` (default 0.6) of its distinct character bigrams - numbers in one spelling,
   marks, punctuation and spaces removed, NFKC, lower case - occur in the cited passages (their text, the
   title / street / year / section line and glossary entries the prompt showed the model);
4. links, phone numbers and e-mail addresses in it occur verbatim in the cited report text, and a clause
   that reads as an instruction (请访问…, 请拨打…) is a verbatim quote of it; text addressed to a model
   (忽略以上指令, ignore previous instructions) is never kept, and a passage holding such text vouches
   for no link, phone number or instruction;
5. every street, district or organisation it names is named in the cited passages;
6. each clause (between ，；：) holds at least `min_clause_support` of its bigrams in the passages, and
   says no where its closest passage clause says yes, or the reverse (全年没有拆除… against 全年拆除…).

Other sentences are dropped from `Answer.text` and listed, as written, in `Answer.flagged`. A kept
sentence's marks are renumbered: each citation is one verbatim sentence of a cited passage - the one that
best matches the answer sentence (Dice coefficient of character bigrams) - with its paragraph number and
character offsets in the cleaned document, as `answering.ExtractiveAnswerer` reports them. If no sentence
survives, or the model replies NOT_FOUND, the answer is NOT_FOUND with `supported=False`. No hits: NOT_FOUND
without calling the model.

Modules: `prompt` (the messages), `backends` (OpenAI-compatible HTTP, transformers, `load_backend`), `verify`
(the checks above), `answerer` (`LLMAnswerer`, `AnswerStream`). Import the names from this package.
"""

from __future__ import annotations

from ...errors import LLMError
from .answerer import AnswerStream, LLMAnswerer
from .backends import (
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    ChatBackend,
    OpenAIBackend,
    TransformersBackend,
    load_backend,
    render_prompt,
)
from .prompt import (
    INSTRUCTIONS,
    KIND_INSTRUCTIONS,
    SYSTEM_PROMPT,
    Message,
    build_messages,
    glossary_lines,
    passage_block,
    passage_header,
    plain_prompt,
)
from .verify import (
    SentenceCheck,
    Verification,
    VerifyConfig,
    answer_sentences,
    passage_sentences,
    verify_answer,
)

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "INSTRUCTIONS",
    "KIND_INSTRUCTIONS",
    "SYSTEM_PROMPT",
    "AnswerStream",
    "ChatBackend",
    "LLMAnswerer",
    "LLMError",
    "Message",
    "OpenAIBackend",
    "SentenceCheck",
    "TransformersBackend",
    "Verification",
    "VerifyConfig",
    "answer_sentences",
    "build_messages",
    "glossary_lines",
    "load_backend",
    "passage_block",
    "passage_header",
    "passage_sentences",
    "plain_prompt",
    "render_prompt",
    "verify_answer",
]
