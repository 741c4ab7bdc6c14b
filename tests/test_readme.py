"""The README's own-model example runs exactly as printed, and does what its text says."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section_code(title: str) -> str:
    text = README.read_text()
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    assert len(blocks) == 1, f"expected one python block under '## {title}'"
    return blocks[0]


def test_the_own_model_example_runs_as_printed():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(section_code("Use it on your own model"), "README.md", "exec"), {"__name__": "readme"})
    lines = out.getvalue().splitlines()
    layers = [line for line in lines if line.startswith("T")]
    assert len(layers) == 4  # two layers, the twin and the deterministic network
    for line in layers:
        # I(X;T) <= ln 297 = 5.69 nats and I(T;Y) <= ln 10 = 2.30 nats, up to their intervals
        ixt, ity = (float(v) for v in re.findall(r"= ([0-9.]+) \[", line))
        assert 0.0 <= ixt <= 5.70 and 0.0 <= ity <= 2.31, line
    acc = [float(v) for v in re.findall(r"(0\.\d+)", lines[0] + lines[3])]
    assert all(a > 0.8 for a in acc), lines
