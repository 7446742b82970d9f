"""Unpaired domains: disjoint halves, the style transforms and their inverses, the sampler, bad input."""
import pytest
import torch

import igmlib as igm
import igmlib._loop
from igmlib.data import STYLES, apply_style, invert, mirror, rotate, thicken, undo_style, unpaired_digits, unpaired_sampler


@pytest.mark.parametrize("style", sorted(STYLES))
def test_domains_are_disjoint_halves_with_labels(style):
    source = igm.data.digits("train")
    domains = unpaired_digits(style, seed=3)
    ix, iy = set(domains.x_index.tolist()), set(domains.y_index.tolist())
    assert not ix & iy  # no image in both domains: no pairs exist
    assert ix | iy == set(range(len(source.x)))
    assert len(domains.x.x) == len(source.x) // 2 and len(domains.y.x) == len(source.x) - len(source.x) // 2
    torch.testing.assert_close(domains.x.x, source.x[domains.x_index])
    torch.testing.assert_close(domains.y.x, apply_style(source.x[domains.y_index], style))
    assert torch.equal(domains.x.y, source.y[domains.x_index]) and torch.equal(domains.y.y, source.y[domains.y_index])
    assert domains.y.x.shape[1:] == (1, 8, 8) and domains.y.x.dtype == torch.float32
    assert float(domains.y.x.min()) >= -1 and float(domains.y.x.max()) <= 1


def test_split_depends_on_seed_only():
    a, b, c = unpaired_digits("inverted", seed=0), unpaired_digits("inverted", seed=0), unpaired_digits("inverted", seed=1)
    assert torch.equal(a.x_index, b.x_index) and not torch.equal(a.x_index, c.x_index)
    assert len(unpaired_digits("rotated", split="test").x.x) == 180


def test_transforms_on_known_images():
    x = -torch.ones(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0  # one ink pixel at row 1, column 1
    torch.testing.assert_close(invert(x), -x)
    thick = thicken(x)
    assert thick.shape == x.shape and float(thick.sum()) == float(x.sum()) + 2  # one more ink pixel
    assert thick[0, 0, 1, 2] == 1 and thick[0, 0, 1, 0] == -1  # it spreads to the right
    assert rotate(x)[0, 0, 2, 1] == 1  # counter-clockwise: (1, 1) -> (4 - 1 - 1, 1)
    assert mirror(x)[0, 0, 1, 2] == 1


@pytest.mark.parametrize("style", ["inverted", "rotated", "mirrored"])
def test_undo_style_inverts_apply_style(style):
    x = igm.data.digits("test").x[:20]
    torch.testing.assert_close(undo_style(apply_style(x, style), style), x)
    assert not torch.equal(apply_style(x, style), x)


def test_sampler_draws_independent_batches_of_each_domain():
    domains = unpaired_digits("inverted")
    draw = domains.sampler()
    torch.manual_seed(0)
    xb, yb = draw(64)
    assert xb.shape == yb.shape == (64, 1, 8, 8)
    # every x comes from X and every y from Y
    assert all((domains.x.x == xi).flatten(1).all(1).any() for xi in xb[:10])
    assert all((domains.y.x == yi).flatten(1).all(1).any() for yi in yb[:10])
    batch = igmlib._loop.batch_sampler(draw, 16, torch.device("cpu"))()
    assert isinstance(batch, tuple) and batch[0].shape == (16, 1, 8, 8)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: unpaired_digits("bold"), ValueError, "unknown style 'bold'; choose one of: inverted, mirrored, rotated, thick"),
        (lambda: unpaired_digits("thick", split="val"), ValueError, "unknown split"),
        (lambda: apply_style(torch.zeros(2, 1, 8, 8), "blurred"), ValueError, "unknown style"),
        (lambda: undo_style(torch.zeros(2, 1, 8, 8), "thick"), ValueError, "has no inverse"),
        (lambda: invert(torch.zeros(8, 8)), ValueError, "must be 4-D"),
        (lambda: rotate(torch.zeros(1, 1, 8, 6)), ValueError, "square"),
        (lambda: thicken(torch.zeros(1, 1, 8, 8), width=0), ValueError, "width must be > 0"),
        (lambda: unpaired_sampler(torch.zeros(5, 1, 8, 8), torch.zeros(9, 1, 8, 8))(6), ValueError, "exceeds a domain"),
        (lambda: igm.data.unpaired_domains(igm.data.Images(torch.zeros(1, 1, 8, 8), torch.zeros(1).long())), ValueError, "at least 2"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
