"""The library example in README runs as written (on the session's small export)."""
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.timeout(300)
def test_readme_api_example_runs(small_run, capsys):
    trained, _ = small_run
    text = README.read_text()
    block = text.split("<!-- api-example -->", 1)[1].split("<!-- /api-example -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    assert "runs/digits/model.net" in code
    exec(compile(code.replace("runs/digits/model.net", str(trained.network_file)), "README", "exec"), {})
    printed = capsys.readouterr().out
    assert "(8, 10)" in printed and "cores" in printed
