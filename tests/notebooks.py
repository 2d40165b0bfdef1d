"""Course-style notebooks built from course-style files, as students hand them in: the definitions
spread over cells, each followed by a call that tries it, IPython magics and a shell escape, a cell
that loads data, one that plots, and one with a syntax error (Python 2 print)."""

import re

import nbformat


def course_notebook(source):
    """The .ipynb text of a notebook holding `source`'s definitions."""
    chunks = re.split(r"\n(?=def |class )", source)
    head, definitions = chunks[0], chunks[1:]
    cells = [
        nbformat.v4.new_markdown_cell("# Assignment: implement the layers below"),
        nbformat.v4.new_code_cell(
            "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n!pip install -q tqdm\n" + head
        ),
        nbformat.v4.new_code_cell(
            "data = load_CIFAR10('cs231n/datasets/cifar-10-batches-py')\nX_train = data['X_train']"
        ),
    ]
    for number, chunk in enumerate(definitions):
        name = re.match(r"(?:def|class) (\w+)", chunk).group(1)
        cells.append(nbformat.v4.new_code_cell(f"{chunk.rstrip()}\n\nprint({name})"))
        if number == 1:
            cells.append(
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot(X_train[:10])\nplt.show()")
            )
            cells.append(nbformat.v4.new_code_cell("print 'loss:', loss"))
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))
