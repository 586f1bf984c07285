#!/usr/bin/env python3
"""Reference vectors for kiln's tokenizer tests (tests/unit/test_tokenizer*.c).

Writes into tests/data/tokenizer/:
  gpt2_cases.json      [{"text", "ids"}]: GPT-2 encodings by Hugging Face
                       transformers' GPT2Tokenizer loaded from
                       $KILN_SHARED/models/gpt2-tokenizer (encoder.json and
                       vocab.bpe), cross-checked against a direct Python
                       rendering of OpenAI's encoder.py algorithm (regex module).
  llama2c_cases.json   [{"hex", "bos", "eos", "ids", "decoded_hex"}]: encodings
                       of tok512.bin by llama2c_tokenizer_ref.py (a plain
                       re-implementation of llama2.c run.c's encode/decode).
  stories260K_gguf_vocab.json  tokens, scores and token types of
                       stories260K.gguf, read with the gguf Python package,
                       for the in-memory ("GGUF llama") constructor test.

Every GPT-2 case text is checked to contain only code points that Python's
unicodedata (which kiln's tables come from, see gen_unicode_tables.py) and
the regex module classify alike, so the references do not depend on the
Unicode version.

Usage: python3 tests/tools/gen_tokenizer_cases.py   (development time only)
"""
import json
import os
import shutil
import sys
import tempfile
import unicodedata

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("KILN_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")
sys.path.insert(0, HERE)
import llama2c_tokenizer_ref as llref  # noqa: E402

GPT2_TEXTS = [
    "",
    "Hello world",
    "Hello, world! How are you today?",
    "I'm here, you're there, they've gone, he'll come, she'd go, it's Bob's, don't",
    "I'M HERE, YOU'RE THERE, THEY'VE GONE, HE'LL COME, SHE'D GO, IT'S, DON'T",
    "'s 't 're 've 'm 'll 'd 'x ''s '",
    "rock'n'roll O'Neill 'quoted' \"double\"",
    "3.14159 is pi; 1,000,000 and 2024-05-09, 12345678901234567890",
    "Wait... what?!?! --- (yes) [no] {maybe} <tag/> @#$%^&*_+=~`|\\",
    "a  b   c    d     e",
    "trailing spaces   ",
    "tabs\tand\t\ttabs\t",
    "new\nlines\n\n\nhere\n",
    "\n\n\n",
    "   ",
    " ",
    "\t",
    "\r\n windows \r\n",
    "mixed \t\n  \n\t end",
    " leading space",
    "  two leading spaces",
    " 123 !!! abc  456  ???",
    "naïve café résumé",
    "Ünïcödé ñ ß ø Æsir",
    "e\u0301 a\u0300\u0301 Z\u0351\u0352\u0353algo",
    "I \u2764\ufe0f \U0001F355 and \U0001F468\u200d\U0001F469\u200d\U0001F467 family \U0001F1FA\U0001F1F8",
    "\U0001F600\U0001F600\U0001F600 \U0001F600",
    "日本語のテキスト、中文文本。한국어 텍스트",
    "Привет, мир! Γειά σου Κόσμε. مرحبا بالعالم नमस्ते दुनिया",
    "a\u00a0b\u2003c\u3000d x\u2028y \u00a0\u00a0z",
    "\x00\x01\x1c\x1f\x7f controls \x1c\x1d a",
    "٣٤٥ ½ Ⅻ ① ²³",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "def f(x):\n    return x**2  # square\n",
    "https://example.com/path?q=1&r=two#frag",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
]

LLAMA_TEXTS = [  # (bytes, bos, eos)
    (b"Once upon a time", 1, 0),
    (b"Once upon a time", 0, 0),
    (b"", 1, 0),
    (b"", 0, 1),
    (b"", 0, 0),
    (b"Hello world", 0, 1),
    ("Lily's mom said, \"Lily, let's go to the park.\"\n".encode(), 1, 0),
    ("\U0001F600".encode(), 1, 0),
    ("I \u2764\ufe0f cats \U0001F431!".encode(), 1, 1),
    ("猫が好き".encode(), 1, 0),
    ("café naïve e\u0301".encode(), 1, 0),
    (b"Zebra QUIZ {}|~` 42", 1, 0),
    (b"  two  spaces\n\ttab\n", 1, 0),
    (b"\x80abc", 1, 0),
    (b"a\xe2\x82", 1, 0),
    (b"\xff\xfe end", 1, 0),
    (b"\xf0\x9f\x98\x80\x80\x80", 1, 0),
    (b"x\x80\x80\x80\x80\x80y", 1, 0),
    (b"a\x80", 0, 0),
]


def gpt2_openai_reference(encoder, ranks, text):
    """OpenAI's encoder.py algorithm, written out directly (cross-check)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    b2u = {b: chr(c) for b, c in zip(bs, cs)}
    pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    ids = []
    for tok in pat.findall(text):
        word = [b2u[b] for b in tok.encode("utf-8")]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        ids.extend(encoder[w] for w in word)
    return ids


def unicode_class(ch):
    cat = unicodedata.category(ch)
    if cat[0] in "LN":
        return cat[0]
    return "S" if ch.isspace() and not "\x1c" <= ch <= "\x1f" else "O"


def regex_class(ch):
    for cls, p in (("L", r"\p{L}"), ("N", r"\p{N}"), ("S", r"\s")):
        if regex.match(p, ch):
            return cls
    return "O"


def gen_gpt2():
    from transformers import GPT2Tokenizer

    src = os.path.join(SHARED, "models", "gpt2-tokenizer")
    tmp = tempfile.mkdtemp()
    try:  # transformers wants the Hugging Face file names
        shutil.copy(os.path.join(src, "encoder.json"), os.path.join(tmp, "vocab.json"))
        shutil.copy(os.path.join(src, "vocab.bpe"), os.path.join(tmp, "merges.txt"))
        tok = GPT2Tokenizer.from_pretrained(tmp)
    finally:
        shutil.rmtree(tmp)
    encoder = json.load(open(os.path.join(src, "encoder.json"), encoding="utf-8"))
    lines = open(os.path.join(src, "vocab.bpe"), encoding="utf-8").read().split("\n")[1:]
    ranks = {tuple(l.split()): i for i, l in enumerate(x for x in lines if x)}
    cases = []
    for text in GPT2_TEXTS:
        for ch in text:
            assert unicode_class(ch) == regex_class(ch), "U+%04X classifies differently across Unicode versions" % ord(ch)
        ids = tok.encode(text, add_special_tokens=False)
        ref = gpt2_openai_reference(encoder, ranks, text)
        assert ids == ref, "transformers and the encoder.py algorithm disagree on %r: %s vs %s" % (text, ids, ref)
        assert tok.decode(ids, clean_up_tokenization_spaces=False) == text
        cases.append({"text": text, "ids": ids})
    return cases


def gen_llama():
    path = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
    pieces, scores = llref.load_tok_bin(path, 512)
    cases = []
    for text, bos, eos in LLAMA_TEXTS:
        ids = llref.encode(pieces, scores, text, bos, eos)
        dec, prev = b"", -1
        for t in ids:
            dec += llref.decode(pieces, prev, t)
            prev = t
        cases.append({"hex": text.hex(), "bos": bos, "eos": eos, "ids": ids, "decoded_hex": dec.hex()})
    return cases


def gen_gguf_vocab():
    import gguf

    r = gguf.GGUFReader(os.path.join(SHARED, "models", "stories260K", "stories260K.gguf"))

    def arr(name, conv):
        f = r.fields[name]
        return [conv(f.parts[i]) for i in f.data]

    def scalar(name):
        f = r.fields[name]
        return int(f.parts[f.data[0]][0])

    return {
        "source": "stories260K.gguf tokenizer.ggml.* (gguf Python package)",
        "bos": scalar("tokenizer.ggml.bos_token_id"),
        "eos": scalar("tokenizer.ggml.eos_token_id"),
        "tokens": arr("tokenizer.ggml.tokens", lambda p: bytes(p).decode("utf-8")),
        "scores": arr("tokenizer.ggml.scores", lambda p: float(p[0])),
        "types": arr("tokenizer.ggml.token_type", lambda p: int(p[0])),
    }


def write(name, obj, one_per_line=True):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        if one_per_line and isinstance(obj, list):
            f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in obj) + "\n]\n")
        else:
            json.dump(obj, f, ensure_ascii=False)
            f.write("\n")
    print("wrote", path)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("gpt2_cases.json", gen_gpt2())
    write("llama2c_cases.json", gen_llama())
    write("stories260K_gguf_vocab.json", gen_gguf_vocab(), one_per_line=False)


if __name__ == "__main__":
    main()
