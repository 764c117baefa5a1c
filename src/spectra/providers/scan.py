"""Recognise the common text-delta stream events without parsing their JSON.

Most events of a streamed answer are text deltas, and a tap needs only two things from one: the
length of its text and, on OpenAI chat, the model. A full `json.loads` plus the walk over the
resulting dicts was ~15% of a streamed request's CPU (bench/RESULTS.md). Each pattern below
matches the whole `data` of one event shape exactly as upstreams serialise it (compact JSON, keys
in their order), and only when the text carries no escape: a string with no backslash, no quote
and no control character is the same text decoded or not, so its `len` is the decoded length.

Exactness: a pattern matches only data that is valid JSON of that one shape (every other string
field is escape-free too, numbers are JSON integers, nothing else is present), so a match means
exactly what `json.loads` and the tap's walk would have concluded. Anything else (escapes,
another key order, extra or missing fields, usage, errors, tool calls, a lying upstream) does not
match and takes the full parse, as before.
"""

from __future__ import annotations

import re

_TEXT = r'"([^"\\\x00-\x1f]*)"'
"""A JSON string with no escape and no control character; its content captured."""
_STR = r'"[^"\\\x00-\x1f]*"'
_INT = r"(?:0|[1-9][0-9]*)"

CHAT_TEXT_DELTA = re.compile(
    r'\{"id":'
    + _STR
    + r',"object":"chat\.completion\.chunk","created":'
    + _INT
    # The model, then optional fields OpenAI and compatible servers send on every chunk.
    + r',"model":'
    + _TEXT
    + r',(?:"service_tier":'
    + _STR
    + r",)?"
    r'(?:"system_fingerprint":(?:' + _STR + r"|null),)?"
    r'"choices":\[\{"index":' + _INT + r',"delta":\{"content":' + _TEXT + r"\}"
    r'(?:,"logprobs":null)?,"finish_reason":null\}\]'
    r'(?:,"usage":null)?(?:,"obfuscation":' + _STR + r")?\}"
).fullmatch
"""An OpenAI chat chunk carrying one choice's text delta and nothing else: (model, text)."""

MESSAGES_TEXT_DELTA = re.compile(
    r'\{"type":"content_block_delta","index":' + _INT + r',"delta":\{"type":'
    r'(?:"text_delta","text"|"thinking_delta","thinking"):' + _TEXT + r"\}\}"
).fullmatch
"""An Anthropic `content_block_delta` of text or thinking: (text,)."""

RESPONSES_TEXT_DELTA = re.compile(
    r'\{"type":"(response\.(?:output_text|refusal|reasoning_text|reasoning_summary_text)'
    r'\.delta)","sequence_number":'
    + _INT
    + r',"item_id":'
    + _STR
    + r',"output_index":'
    + _INT
    + r',(?:"content_index":'
    + _INT
    + r",|"
    r'"summary_index":' + _INT + r",)"
    r'"delta":' + _TEXT + r'(?:,"logprobs":\[\])?(?:,"obfuscation":' + _STR + r")?\}"
).fullmatch
"""A Responses text delta (output text, refusal, reasoning, summary): (type, text)."""
