"""An independent Python re-implementation of llama2.c's run.c tokenizer.

Written from the behaviour of run.c's encode()/decode() (karpathy/llama2.c),
deliberately naive (quadratic re-scan, like run.c) so that it shares no
structure with kiln's heap-based C implementation. Used only at development
time by gen_tokenizer_cases.py to produce reference vectors.
"""
import struct


def load_tok_bin(path, vocab_size):
    """Read a llama2.c tokenizer .bin: int32 max_token_length, then per token
    float32 score, int32 length, bytes. Returns (pieces, scores)."""
    data = open(path, "rb").read()
    off = 4
    pieces, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    return pieces, scores


def _to_f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def encode(pieces, scores, text, bos, eos):
    """text: bytes. Returns the token ids run.c's encode() would produce."""
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)  # first id wins on duplicate pieces
    toks = []
    if bos:
        toks.append(1)
    if len(text) > 0 and b" " in lookup:
        toks.append(lookup[b" "])
    # Group bytes like run.c: a group starts at any byte and swallows the
    # continuation bytes (10xxxxxx) that follow, up to 4 bytes in total.
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and (text[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        group = text[i:j]
        if group in lookup:
            toks.append(lookup[group])
        else:
            toks.extend(b + 3 for b in group)
        i = j
    # Merge the best-scoring adjacent pair (first on ties) until none is left.
    floor = _to_f32(-1e10)
    while True:
        best, best_i, best_id = floor, -1, -1
        for k in range(len(toks) - 1):
            merged = pieces[toks[k]] + pieces[toks[k + 1]]
            mid = lookup.get(merged, -1)
            if mid != -1 and scores[mid] > best:
                best, best_i, best_id = scores[mid], k, mid
        if best_i < 0:
            break
        toks[best_i:best_i + 2] = [best_id]
    if eos:
        toks.append(2)
    return toks


def decode(pieces, prev, tok):
    """Bytes run.c's decode(prev, tok) yields (before safe_printf filtering)."""
    p = pieces[tok]
    if prev == 1 and p[:1] == b" ":
        p = p[1:]
    if len(p) == 6 and p[:3] == b"<0x" and p[5:] == b">":
        try:
            return bytes([int(p[3:5], 16)])
        except ValueError:
            pass
    return p
