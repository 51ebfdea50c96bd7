"""Mutations of YAML text for the fuzz harness (tools/fuzz/fuzz.py). Python standard library only.

The documents are mutated as text, not parsed: every mutation works on lines (block YAML) or on
`key: value` slots (block and flow YAML alike), so comments, flow mappings and odd spellings
survive and the mutated text may also be invalid YAML, which the simulator must reject cleanly.
"""
import re

# `key: value` slots: a key, the colon, and a scalar value up to a comma, bracket, comment or
# end of line. Works inside flow mappings ({kind: gemm, m: 1}) and on block lines.
SLOT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):[ \t]*([^,{}\[\]\n#]*[^,{}\[\]\n# \t])")
KEY_LINE = re.compile(r"^(\s*)(- )?([A-Za-z_][A-Za-z0-9_]*):(.*)$")

NUMBERS = ["0", "-0", "-1", "1", "2", "-7", "0.5", "1e300", "-1e300", "1e400", "-1e400", "1e-300",
           "1e-400", "nan", ".nan", "NaN", "inf", "-inf", ".inf", "-.inf", "Infinity", "2147483647",
           "2147483648", "-2147483649", "9223372036854775807", "99999999999999999999999", "0x10",
           "1_000", "1,000", "0.0000001", "3.", ".5", "+5", "1e6", "1000000", "16777217", "65536",
           "4096", "100000000", "1e9"]
UNITS = ["", " B", " GB", " GiB", " TB", " KB/s", " GB/s", " TB/s", " Gbps", " b/s", " s", " ms",
         " us", " ns", " ps", " TFLOPS", " FLOPS", " TOPS", " GHz", " Hz", " m", " GB/h", " parsecs",
         "GB/s", " gb/s", " %"]
ODD_SCALARS = ["", "~", "null", "true", "false", "yes", "no", "[]", "{}", "[1, 2]", "{a: 1}",
               "[[[[[[]]]]]]", "'quoted'", '"\\x00"', "\"\\u202e\"", "-", "--", "?", "|", ">",
               "&a 1", "*a", "!!binary AAAA", "!!float x", "!custom 1", "'1 GB/s'", "1 GB/s GB/s",
               "1 1", "one", "gpt2-xl", "h100-sxm", "all", "d0", "n0.d0", "n99.d9", "ring",
               "train", "decode", "collective", "microbench"]
CONTROL = ["\x01", "\x07", "\x1b[31mred\x1b[0m", "\t", "\r", "\x7f", "\x00", "\u202e", "\ufeff"]
INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\x28", b"\xed\xa0\x80", b"\xc0\xaf"]
JUNK_KEYS = ["bandwith", "typo", "latency", "bandwidth", "dims", "radix", "switches", "links",
             "model", "collective", "ops", "parallel", "optimizer", "moe", "mtp", "preset", "iterations",
             "repeat", "grad_accum", "backward", "name", "devices", "planes", "peak", "capacity",
             "a", "b", "group", "bytes", "sizes", "kv_heads", "head_dim", "mla", "<<"]
HUGE_COUNTS = ["1000000", "50000000", "2147483647", "1000", "100000", "65536", "4194304"]


def scalar_value(rng):
    """A replacement for a scalar: a number (perhaps with a unit) or an odd YAML value."""
    r = rng.random()
    if r < 0.55:
        return rng.choice(NUMBERS) + rng.choice(UNITS)
    if r < 0.9:
        return rng.choice(ODD_SCALARS)
    return rng.choice(HUGE_COUNTS)


def deep(rng):
    n = rng.choice([10, 63, 64, 65, 100, 300, 3000])
    return "[" * n + "]" * n if rng.random() < 0.5 else "{a: " * n + "1" + "}" * n


def _lines(text):
    return text.split("\n")


def _block_end(lines, i):
    """Index past line i's block: the following lines indented deeper than line i."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    return j


def _key_lines(lines):
    return [i for i, l in enumerate(lines) if KEY_LINE.match(l) and not l.lstrip().startswith("#")]


def m_delete_key(text, rng):
    lines = _lines(text)
    ks = _key_lines(lines)
    if not ks:
        return text
    i = rng.choice(ks)
    del lines[i:_block_end(lines, i)]
    return "\n".join(lines)


def m_duplicate_key(text, rng):
    lines = _lines(text)
    ks = _key_lines(lines)
    if not ks:
        return text
    i = rng.choice(ks)
    j = _block_end(lines, i)
    return "\n".join(lines[:j] + lines[i:j] + lines[j:])


def m_swap_lines(text, rng):
    lines = _lines(text)
    if len(lines) < 2:
        return text
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "\n".join(lines)


def m_swap_values(text, rng):
    slots = list(SLOT.finditer(text))
    if len(slots) < 2:
        return text
    a, b = sorted(rng.sample(slots, 2), key=lambda m: m.start(2))
    return (text[:a.start(2)] + b.group(2) + text[a.end(2):b.start(2)] + a.group(2) + text[b.end(2):])


def _replace_slot(text, rng, make):
    slots = list(SLOT.finditer(text))
    if not slots:
        return text
    m = rng.choice(slots)
    return text[:m.start(2)] + make(m.group(2)) + text[m.end(2):]


def m_scalar(text, rng):
    return _replace_slot(text, rng, lambda old: scalar_value(rng))


def m_number_keep_unit(text, rng):
    """1.6 TB/s -> 1e400 TB/s: the unit stays, the number becomes absurd."""
    def make(old):
        unit = re.sub(r"^[-+0-9.eE_]*", "", old)
        return rng.choice(NUMBERS) + (unit if unit else "")
    return _replace_slot(text, rng, make)


def m_tweak_number(text, rng):
    """A plausible value: a number scaled by 1/8 .. 8, the unit kept (explores valid runs)."""
    def make(old):
        m = re.match(r"^([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)(.*)$", old)
        if not m:
            return old
        v = float(m.group(1)) * rng.choice([0.125, 0.25, 0.5, 0.9, 1.1, 2, 3, 4, 8])
        num = str(max(1, round(v))) if re.fullmatch(r"[0-9]+", m.group(1)) else f"{v:.4g}"
        return num + m.group(2)
    return _replace_slot(text, rng, make)


def m_wrong_unit(text, rng):
    def make(old):
        num = re.match(r"^[-+0-9.eE]*", old).group(0) or "1"
        return num + rng.choice(UNITS)
    return _replace_slot(text, rng, make)


def m_scale_count(text, rng):
    return _replace_slot(text, rng, lambda old: rng.choice(HUGE_COUNTS))


def m_block_to_scalar(text, rng):
    lines = _lines(text)
    ks = [i for i in _key_lines(lines) if KEY_LINE.match(lines[i]).group(4).strip() == ""]
    if not ks:
        return m_scalar(text, rng)
    i = rng.choice(ks)
    m = KEY_LINE.match(lines[i])
    new = f"{m.group(1)}{m.group(2) or ''}{m.group(3)}: {scalar_value(rng)}"
    return "\n".join(lines[:i] + [new] + lines[_block_end(lines, i):])


def m_scalar_to_structure(text, rng):
    return _replace_slot(text, rng, lambda old: rng.choice(
        [f"[{old}]", f"{{a: {old}}}", f"[{old}, {old}]", "{}", "[]", f"{{preset: {old}}}"]))


def m_deep(text, rng):
    return _replace_slot(text, rng, lambda old: deep(rng))


def m_insert_key(text, rng):
    lines = _lines(text)
    ks = _key_lines(lines)
    if not ks:
        return text + f"\n{rng.choice(JUNK_KEYS)}: {scalar_value(rng)}\n"
    i = rng.choice(ks)
    m = KEY_LINE.match(lines[i])
    indent = m.group(1) + ("  " if m.group(2) else "")
    new = f"{indent}{rng.choice(JUNK_KEYS)}: {scalar_value(rng)}"
    return "\n".join(lines[:i] + [new] + lines[i:])


def m_misspell(text, rng):
    lines = _lines(text)
    ks = _key_lines(lines)
    if not ks:
        return text
    i = rng.choice(ks)
    m = KEY_LINE.match(lines[i])
    key = m.group(3)
    if len(key) > 1:
        k = rng.randrange(len(key))
        key = key[:k] + key[k + 1:]
    lines[i] = f"{m.group(1)}{m.group(2) or ''}{key}:{m.group(4)}"
    return "\n".join(lines)


def m_alias(text, rng):
    slots = list(SLOT.finditer(text))
    if len(slots) < 2:
        return text
    a, b = sorted(rng.sample(slots, 2), key=lambda m: m.start(2))
    if rng.random() < 0.5:  # anchor the first, alias it in the second
        return text[:a.start(2)] + "&x " + a.group(2) + text[a.end(2):b.start(2)] + "*x" + text[b.end(2):]
    return text[:b.start(2)] + "*nowhere" + text[b.end(2):]


def m_alias_bomb(text, rng):
    bomb = "bomb:\n  - &l0 [x, x, x, x, x, x, x, x, x, x]\n"
    for k in range(1, rng.choice([3, 6, 9])):
        bomb += f"  - &l{k} [*l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}, *l{k-1}]\n"
    return bomb + text


def m_control(text, rng):
    return _replace_slot(text, rng, lambda old: old + rng.choice(CONTROL) + old)


def m_truncate(text, rng):
    return text[:rng.randrange(len(text) + 1)]


def m_empty(text, rng):
    return rng.choice(["", "\n", "# only a comment\n", "---\n", "~\n", "[]\n", "- a\n", "just a string\n", "...\n"])


def m_byte_flip(text, rng):
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(":-[]{}&*!|>'\"%@`#,? \n\t") + text[i + 1:]


MUTATIONS = [m_tweak_number, m_tweak_number, m_tweak_number, m_delete_key, m_duplicate_key, m_swap_lines, m_swap_values, m_scalar, m_scalar,
             m_number_keep_unit, m_number_keep_unit, m_wrong_unit, m_scale_count, m_block_to_scalar,
             m_scalar_to_structure, m_deep, m_insert_key, m_insert_key, m_misspell, m_alias,
             m_alias_bomb, m_control, m_truncate, m_empty, m_byte_flip]


def mutate(text, rng, count):
    """Applies `count` random mutations; returns (text, names of the mutations)."""
    names = []
    for _ in range(count):
        f = rng.choice(MUTATIONS)
        if f is m_empty and rng.random() < 0.8:  # rare: one empty input is like another
            f = m_scalar
        text = f(text, rng)
        names.append(f.__name__[2:])
    return text, names


def invalid_utf8(data, rng):
    """Bytes with an invalid UTF-8 sequence inserted at a random place."""
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice(INVALID_UTF8) + data[i:]


def set_paths(text, prefix):
    """Dotted paths of the block keys of a document (for --set), e.g. workload.parallel.tp."""
    out, stack = [], []
    for line in _lines(text):
        m = KEY_LINE.match(line)
        if not m or line.lstrip().startswith("#") or m.group(2):
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(3)))
        out.append(prefix + "." + ".".join(k for _, k in stack))
    return out
