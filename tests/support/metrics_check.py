#!/usr/bin/env python3
"""Checks a Prometheus text exposition (format 0.0.4) strictly, then runs assertions.

    metrics_check.py FILE 'PYTHON'

FILE must parse: every sample belongs to a family declared by one HELP and one TYPE
line before it, names and labels are well formed, label values escaped, values are
numbers (+Inf, -Inf, NaN allowed), a histogram's buckets are cumulative and its +Inf
bucket equals its _count. Then PYTHON runs with
    v(name, **labels)  the value of the sample with exactly these labels (KeyError if none)
    types              family name -> type
    samples            {(name, frozenset(labels.items())): value}
Exits 1 with the reason when the text or an assertion fails.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)$" % NAME)
PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)' % LABEL)


def unescape(value):
    return re.sub(r'\\(\\|"|n)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text):
    helps, types, samples, order = {}, {}, {}, []
    if not text.endswith("\n"):
        raise ValueError("the text does not end with a line feed")
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (number, line)
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, value = rest.partition(" ")
            if not re.fullmatch(NAME, name):
                raise ValueError(where + ": bad metric name")
            table = helps if kind == "HELP" else types
            if name in table:
                raise ValueError(where + ": a second %s line for %s" % (kind, name))
            if kind == "TYPE" and value not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError(where + ": unknown type")
            table[name] = value
            continue
        if line.startswith("#") or not line:
            raise ValueError(where + ": unexpected line")
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(where + ": not a sample")
        name, labels_text, value = m.group(1), m.group(3), m.group(4)
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                pm = PAIR.match(labels_text, pos)
                if not pm:
                    raise ValueError(where + ": bad labels at %r" % labels_text[pos:])
                if pm.group(1) in labels:
                    raise ValueError(where + ": label %s twice" % pm.group(1))
                labels[pm.group(1)] = unescape(pm.group(2))
                pos = pm.end()
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                family = base
        if family not in types or family not in helps:
            raise ValueError(where + ": no HELP and TYPE for %s before it" % family)
        if family == name and types[family] == "histogram":
            raise ValueError(where + ": a histogram sample without _bucket/_sum/_count")
        if types[family] == "counter" and not name.endswith("_total"):
            raise ValueError(where + ": a counter's name must end in _total")
        number_value = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(value)
        if number_value is None:
            number_value = float(value)
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError(where + ": the same series twice")
        samples[key] = number_value
        order.append((family, name, labels, number_value))
    # Histograms: cumulative buckets, +Inf == _count.
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for fam, name, labels, value in order:
            if fam != family or not name.endswith("_bucket"):
                continue
            rest = frozenset((k, v) for k, v in labels.items() if k != "le")
            series.setdefault(rest, []).append((labels["le"], value))
        for rest, buckets in series.items():
            values = [v for _, v in buckets]
            if values != sorted(values):
                raise ValueError("%s %s: buckets are not cumulative" % (family, dict(rest)))
            if buckets[-1][0] != "+Inf":
                raise ValueError("%s %s: the last bucket is not +Inf" % (family, dict(rest)))
            count = samples.get((family + "_count", rest))
            if count != buckets[-1][1]:
                raise ValueError("%s %s: +Inf bucket %s != _count %s" % (family, dict(rest), buckets[-1][1], count))
    return types, samples


def main():
    path, code = sys.argv[1], sys.argv[2]
    text = open(path, encoding="utf-8").read()
    try:
        types, samples = parse(text)
    except ValueError as error:
        print("not a valid exposition: %s" % error)
        return 1

    def v(name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in samples:
            near = sorted(dict(k[1]) for k in samples if k[0] == name)
            raise KeyError("no sample %s%s; there are: %s" % (name, labels, near[:10]))
        return samples[key]

    try:
        exec(code, {"v": v, "types": types, "samples": samples})
    except (AssertionError, KeyError) as error:
        line = error.__traceback__
        while line.tb_next is not None:
            line = line.tb_next
        lines = code.splitlines()
        failed = lines[line.tb_lineno - 1].strip() if 0 < line.tb_lineno <= len(lines) else "?"
        print("failed: %s %s" % (failed, error))
        return 1
    print("%d samples in %d families" % (len(samples), len(types)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
