"""A test of the browser test: the same checks must fail on widgets that are deliberately broken.

Two tiny notebooks, written next to the lesson copies (build/browser-work/notebooks/):
- ``panels.ipynb``: a working panel (slider, Train, plot, run table) and one whose Train does nothing;
  the check passes on the first (it is not vacuous) and fails on the second.
- ``unrendered.ipynb``: a panel shown as its text repr, a widget whose front-end module does not exist,
  then a cell that raises; the render and error checks fail on each of them.
"""

from __future__ import annotations

import browserlab as L
import nbformat
import pytest

pytestmark = pytest.mark.browser

PANEL = '''\
import io

import ipywidgets as widgets
from matplotlib.figure import Figure


def png(n_points):
    """A small line plot with n points (each run adds one), as PNG bytes."""
    fig = Figure(figsize=(3, 1.6))
    fig.subplots().plot(range(n_points), marker="o")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


class Panel:
    """A miniature HyperparameterPanel: Train adds a run to the plot and to the table (unless broken)."""

    def __init__(self, train_works=True):
        self.rate = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.1, description="rate")
        self.train_button = widgets.Button(description="Train")
        self.image = widgets.Image(value=png(1), format="png")
        self.table = widgets.HTML("<pre>run 1: rate=0.5</pre>")
        self.n_runs = 1
        if train_works:
            self.train_button.on_click(self.train)
        self.widget = widgets.VBox([self.rate, self.train_button, self.image, self.table])

    def train(self, _button=None):
        self.n_runs += 1
        self.image.value = png(self.n_runs)
        self.table.value = self.table.value.replace("</pre>", f"\\nrun {self.n_runs}: rate={self.rate.value:g}</pre>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
'''

NOTEBOOKS = {
    "panels.ipynb": [
        PANEL,
        "good = Panel()  # working panel\ngood",
        "dead = Panel(train_works=False)  # broken: Train does nothing\ndead",
    ],
    "unrendered.ipynb": [
        PANEL,
        "class TextOnly(Panel):\n    _repr_mimebundle_ = None  # broken: falls back to repr()\n\n"
        "    def __repr__(self):\n        return repr(self.widget)\n\n\nTextOnly()",
        "import traitlets\n\n\nclass NoView(widgets.DOMWidget):  # broken: its front-end module does not exist\n"
        '    _view_module = traitlets.Unicode("no-such-widget-module").tag(sync=True)\n'
        '    _view_name = traitlets.Unicode("NoSuchView").tag(sync=True)\n'
        '    _model_module = traitlets.Unicode("no-such-widget-module").tag(sync=True)\n'
        '    _model_name = traitlets.Unicode("NoSuchModel").tag(sync=True)\n\n\nNoView()',
        'raise RuntimeError("a cell that fails")',
    ],
}


@pytest.fixture(scope="module")
def broken(lab):
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
        nb.metadata["kernelspec"] = {
            "name": L.KERNEL,
            "display_name": "DQN Course (.venv)",
            "language": "python",
        }
        nbformat.write(nb, lab.root_dir / name)
    return lab


def test_the_panel_check_passes_on_a_working_panel_and_fails_when_train_does_nothing(page, broken):
    L.open_notebook(page, broken, "panels.ipynb")
    L.assert_no_errors(L.run_all(page, timeout=120))
    L.assert_widgets_render(page, expect_at_least=2)

    good = L.find_panel(page, "good = Panel()")
    _, after = L.check_train_updates(good, "rate", 0.9, timeout=20)
    assert "run 2: rate=0.9" in after["tables"][0]  # the positive control: the check is not vacuous

    dead = L.find_panel(page, "dead = Panel(train_works=False)")
    with pytest.raises(
        AssertionError, match=r"did not update within .*unchanged \['images', 'tables'\]"
    ):
        L.check_train_updates(dead, "rate", 0.9, timeout=8)
    L.shot(dead, "broken-dead-train")


def test_the_render_and_error_checks_fail_on_unrendered_widgets(page, broken):
    L.open_notebook(page, broken, "unrendered.ipynb")
    state = L.run_all(page, timeout=120)
    L.shot(page, "broken-unrendered")
    with pytest.raises(AssertionError, match="RuntimeError: a cell that fails"):
        L.assert_no_errors(state)
    with pytest.raises(AssertionError) as caught:
        L.assert_widgets_render(page)
    message = str(caught.value)
    assert "cell 1 shows a widget as text: VBox(" in message, message  # the text repr
    assert "cell 2" in message, message  # the widget whose view cannot load
