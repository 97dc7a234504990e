"""
The pre-tokens of OpenAI's CLIP tokenizer (`clip/simple_tokenizer.py`, which HF's slow CLIPTokenizer
copies) for inputs that exercise its text cleanup: HTML character references and entities (Python's
own `html.unescape`, run twice), `str.strip`, `\\s+` collapsing, lower-casing and the pre-split
pattern (the `regex` module, as OpenAI imports it). ftfy.fix_text is replaced by NFC, as the
project's reference fixture and tokenizer do.

Written from simple_tokenizer.py, not from the project's code. Needs Debian's python3-regex:

    /usr/bin/python3 scripts/golden/clip_pretokens.py > test/golden/clip_pretokens.json

Read by test/unit/tokens/clipCleanupGolden.test.ts.
"""
import html
import html.entities
import json
import sys
import unicodedata

import regex

PAT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def basic_clean(text):
    text = unicodedata.normalize("NFC", text)  # stands in for ftfy.fix_text
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = regex.sub(r"\s+", " ", text)
    return text.strip()


def pretokens(text):
    return regex.findall(PAT, whitespace_clean(basic_clean(text)).lower())


cases = []


def add(text):
    cases.append([text, pretokens(text)])


# Numeric character references: decimal and hex, with and without the semicolon, over the
# replaced range (0x80..0x9F), the removed control and noncharacter ranges, surrogates and the top.
numbers = list(range(0, 0x180)) + list(range(0x2000, 0x2030))
numbers += [0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0xFDCF, 0xFDD0, 0xFDD1, 0xFDEE, 0xFDEF, 0xFDF0]
numbers += [0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x1FFFD, 0x1FFFE, 0x1FFFF, 0x20000, 0x10FFFD, 0x10FFFE]
numbers += [0x10FFFF, 0x110000, 10**12, 10**30]
for n in numbers:
    add(f"q&#{n};z")
for n in numbers[::3]:
    add(f"q&#x{n:x};z")
    add(f"q&#X{n:X} z")
    add(f"q&#{n} z")
add("q&#" + "9" * 400 + ";z")
add("q&#x" + "f" * 300 + ";z")
add("&#65x &#x41g &#X41; &#; &#x; &#xg; &# &")

# Named references: every legacy name (the ones Python also matches without `;`), with the
# semicolon, without it before a space, and followed by letters (Python's longest-prefix rule).
legacy = sorted(name for name in html.entities.html5 if not name.endswith(";"))
for name in legacy:
    add(f"q&{name};z")
    add(f"q &{name} z")
    add(f"q&{name}zz")
# Names that need the semicolon (the common typographic ones the project keeps).
for name in """apos hellip mdash ndash lsquo rsquo ldquo rdquo sbquo bdquo bull trade euro hearts spades
        clubs diams star starf larr rarr uarr darr harr prime Prime ensp emsp thinsp zwj zwnj lrm rlm Tab
        NewLine check cross infin asymp ne le ge minus sim""".split():
    add(f"q&{name};z")
    add(f"q &{name} z")
for text in ["&copycat &ampx &AMP; &amp;amp; &#38;#65; &#38;amp; &amp;#x42; &;", "&" + "a" * 33 + ";", "& amp; &\tamp;"]:
    add(text)

# strip() and \s+: a character at both ends and in the middle.
spaces = list(range(0, 0x21)) + list(range(0x7F, 0xA1)) + [0x1680, 0x180E] + list(range(0x2000, 0x200C))
spaces += [0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF]
for c in spaces:
    ch = chr(c)
    add(f"{ch}a{ch}b{ch}")
    add(f"{ch}{ch}, {ch}")

# Pre-split, lower-casing and NFC.
for text in [
    "it's IT'S they're we've I'm you'll he'd x'ſ 're' '",
    "<|startoftext|>a <|ENDOFTEXT|> <|startoftext|",
    "abc123 1.5e3 ½ Ⅻ ٣٤ 2nd",
    "((masterpiece:1.2)), [cat|dog] <lora:add_detail:0.8> a_b-c",
    "Ünïcödé ÉCOLE İstanbul ΣΑΣ ΣΑΣ. ǅ ß ﬁ",
    "e\u0301 x,e\u0301 x,e\u0301\u0323 \u0301\u0323x,y a\u0344b \u1100\u1161 x,\u1100\u1161\u11a8",
    "日本語のテキスト 한국어 🐱🐶 👩‍💻 ✨,✨",
    "x\u2adc,y z\u00c9",
]:
    add(text)

json.dump({"python": sys.version.split()[0], "unicode": unicodedata.unidata_version, "cases": cases}, sys.stdout, ensure_ascii=True, indent=None, separators=(",", ":"))
sys.stdout.write("\n")
