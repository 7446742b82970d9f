"""The static player (igm.plot.player), the book's static figures and the training film."""
import re

import matplotlib.pyplot as plt
import pytest

import igmlib as igm
from igmlib.book import film, static


def _draw(a, b="x"):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, float(a)])
    ax.set_title(f"{a} {b}")
    return fig


def _frames(html: str) -> list[str]:
    return re.findall(r'"([A-Za-z0-9+/=]{100,})"', html)


def test_player_embeds_one_frame_per_combination_and_one_control_per_parameter():
    n_figures = len(plt.get_fignums())
    html = igm.plot.player(_draw, {"a": [1.0, 2.0, 3.0], "b": ["x", "y"]}).data
    assert len(plt.get_fignums()) == n_figures  # every frame's figure was closed
    assert len(_frames(html)) == 6 and len(set(_frames(html))) == 6
    assert html.count('type="range"') == 1 and html.count("<select") == 1
    assert html.count("data-igm-param=") == 2
    assert "<button" not in html  # play buttons only for one parameter
    assert not re.search(r"https?:", html)  # no CDN, no external request


def test_single_parameter_player_has_svg_buttons():
    html = igm.plot.player(_draw, {"a": [1, 2]}, control="select").data
    buttons = re.findall(r"<button[^>]*>(.*?)</button>", html)
    assert len(buttons) == 5 and all(b.startswith("<svg") and "<path" in b for b in buttons)
    assert "<select" in html and 'type="range"' not in html
    assert not re.search(r"https?:|&#9\d\d\d;", html)  # no URL, no Unicode media glyphs


@pytest.mark.parametrize("params, match", [
    ({}, "params must be a non-empty dict"),
    ([("a", [1])], "params must be a non-empty dict"),
    ({"a": []}, "parameter 'a' has no values"),
    ({"a": "abc"}, "params must map names"),
    ({"a": 3}, "params must map names"),
    ({"a": range(20), "b": range(10)}, r"20 x 10 = 200 frames, more than max_frames=120"),
])
def test_player_rejects_bad_parameter_specs(params, match):
    with pytest.raises(ValueError, match=match):
        igm.plot.player(_draw, params)


def test_player_rejects_bad_control_and_draw():
    with pytest.raises(ValueError, match="control"):
        igm.plot.player(_draw, {"a": [1]}, control="knob")
    with pytest.raises(TypeError, match="draw must return a matplotlib Figure, got NoneType"):
        igm.plot.player(lambda a: None, {"a": [1]})


def test_animation_uses_the_player():
    snaps = igm.Snapshots(every=1)
    snaps.steps, snaps.samples = [1, 2, 3], [igm.data.ring().sample((20,)) * k for k in (1, 2, 3)]
    html = igm.plot.animation(snaps).data
    assert 'class="igm-player"' in html and len(_frames(html)) == 3 and html.count("<svg") >= 5


def test_weight_density_player_has_three_sliders():
    html = static.weight_density_player(a1=(-1.0, 1.0), w1=(1.0,), b1=(0.0, 2.0), samples=500, points=201).data
    assert html.count('type="range"') == 3 and len(_frames(html)) == 4


def test_film_records_a_frame_after_each_update():
    model = igm.models.GAN(igm.nets.MLP(2, 2, hidden=(8,)), igm.nets.MLP(2, 1, hidden=(8,)), latent_dim=2)
    frames = film.record_film(model, igm.data.ring(), steps=4, every=2, batch_size=16, n=10, grid=6)
    assert [(f["step"], f["update"]) for f in frames] == [
        (1, "discriminator"), (1, "generator"), (2, "discriminator"), (2, "generator"),
        (4, "discriminator"), (4, "generator")]
    assert frames[0]["heat"].shape == (6, 6) and frames[0]["fake"].shape == frames[0]["push"].shape == (10, 2)
    assert (frames[0]["fake"] != frames[1]["fake"]).any()  # the generator moved its samples
    html = film.film({"a": frames, "b": frames}, igm.data.ring().sample((50,))).data
    assert len(_frames(html)) == 6 and 'type="range"' in html and html.count("<button") == 5
    with pytest.raises(ValueError, match="equally long"):
        film.film({"a": frames, "b": frames[:2]}, igm.data.ring().sample((50,)))
