"""Executed notebook → self-contained HTML (no code, no prompts, no CDN), and PDF.

The HTML uses nbconvert's ``basic`` template (cell bodies only, no require.js
or MathJax from a CDN), drops input and prompts, removes the ``parameters``,
``injected-parameters`` and ``remove`` cells by tag, and wraps the result in a
small page with its own CSS and ``lang="ja"``. Figures are embedded PNG data
URIs, so the file opens offline. Any remote ``<script src>``/``<link href>``
that a future nbconvert adds is stripped.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

REMOVE_TAGS = {"parameters", "injected-parameters", "remove"}

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --accent:#1f5f8b; --warn:#a61b1b; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0; color: var(--ink); background: #fff;
  font-family: "Hiragino Kaku Gothic ProN", "Hiragino Sans", "Noto Sans CJK JP", "Noto Sans JP",
    "IPAexGothic", "Yu Gothic", "Meiryo", sans-serif; line-height: 1.7; }
main { max-width: 980px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1.ek-title { font-size: 1.7rem; margin: 0 0 .3rem; color: var(--accent); }
.ek-subtitle { font-size: 1.1rem; margin: 0 0 .4rem; }
.ek-run-ts { color: var(--muted); font-size: .85rem; margin: 0 0 1rem; }
.ek-toc { border: 1px solid var(--line); background: #f8f9fb; padding: .4rem 1rem; margin: 0 0 1.2rem;
  font-size: .9rem; }
.ek-toc ol { margin: .2rem 0; padding-left: 1.4rem; columns: 2; }
.ek-toc a { color: var(--accent); text-decoration: none; }
h2.ek-section { font-size: 1.3rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem;
  margin: 2.4rem 0 .8rem; page-break-after: avoid; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; page-break-after: avoid; }
p { margin: .4rem 0 .8rem; }
.ek-note { color: var(--muted); font-size: .85rem; }
.ek-unavailable { color: var(--muted); font-style: italic; border-left: 3px solid var(--line);
  padding-left: .7rem; }
.ek-restricted { border: 2px solid var(--warn); color: var(--warn); font-weight: bold;
  padding: .5rem .8rem; margin: .6rem 0 1rem; }
.ek-table-wrap { overflow-x: auto; margin: .6rem 0 1.2rem; page-break-inside: avoid; }
.ek-caption { font-weight: bold; margin: 0 0 .3rem; font-size: .92rem; }
table.ek-table { border-collapse: collapse; font-size: .88rem; min-width: 40%; }
table.ek-table th, table.ek-table td { border-bottom: 1px solid var(--line); padding: .3rem .7rem;
  text-align: left; vertical-align: top; }
table.ek-table thead th { border-bottom: 2px solid var(--ink); background: #f5f7fa; }
table.ek-table tbody tr:nth-child(even) { background: #fafbfc; }
.ek-figure { margin: .6rem 0 1.4rem; page-break-inside: avoid; }
.ek-figure img { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; font-size: .8rem; }
@media print { main { max-width: none; padding: 0; } h2.ek-section { margin-top: 1.4rem; } }
"""

_REMOTE = re.compile(
    r"<script[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>|"
    r"<link[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE,
)


def notebook_to_html(nb: nbformat.NotebookNode, *, lang: str = "ja", title: str = "") -> str:
    """The executed report notebook as one self-contained HTML page."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_TAGS)
    c.TagRemovePreprocessor.enabled = True
    exp = HTMLExporter(
        config=c,
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exp.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    body, _ = exp.from_notebook_node(nb)
    body = _REMOTE.sub("", body)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"en" if lang == "en" else "ja"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="evalkit">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


INSTALL_HINT = (
    "PDF の作成には Chromium と日本語フォントが必要です。次のコマンドでインストールしてください: "
    "sudo apt-get install chromium fonts-noto-cjk（--pdf なしで実行し、HTML をブラウザから印刷することも"
    "できます）\n"
    "PDF output needs Chromium and a Japanese font: sudo apt-get install chromium fonts-noto-cjk "
    "(or run without --pdf and print annual_report.html from a browser)."
)


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 120) -> Path:
    """Print the HTML report to PDF with headless Chromium.

    Raises
    ------
    FileNotFoundError
        Chromium is not installed (message says how to install it).
    RuntimeError
        Chromium failed.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not pdf_path.exists():
        raise RuntimeError(
            f"Chromium による PDF 作成に失敗しました / Chromium failed to print the PDF: "
            f"{proc.stderr.strip()[-500:]}"
        )
    return pdf_path


def hide_data_path(nb: nbformat.NotebookNode, data_path: str, shown: str) -> int:
    """Replace the absolute data path everywhere in a notebook by ``shown`` (its name).

    The injected-parameters cell, outputs (an error message can quote the
    path) and metadata (papermill's parameters) are all rewritten, so neither
    the public notebook nor its HTML tell where the data lives on the machine
    that built it. Returns the number of strings changed.
    """
    variants = {str(data_path), str(data_path).replace("\\", "\\\\")}
    variants.discard("")
    n = 0

    def fix(x):
        nonlocal n
        if isinstance(x, str):
            y = x
            for v in variants:
                y = y.replace(v, shown)
            n += y != x
            return y
        if isinstance(x, list):
            return [fix(i) for i in x]
        if isinstance(x, dict):
            for k in list(x):
                x[k] = fix(x[k])
            return x
        return x

    fix(nb)
    return n
