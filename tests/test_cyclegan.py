"""CycleGAN: the image history, the cycle loss, training steps, the learning-rate decay, options."""
import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.models import CycleGAN, ImageHistory, cycle_consistency_loss
from igmlib.nets import ConvDiscriminator, ConvTranslator


def ids(images):
    """The images below are constant tensors: image k is filled with the value k."""
    return images.flatten(1)[:, 0].long().tolist()


def constant_images(start, n):
    return torch.arange(start, start + n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 2, 2).clone()


def test_history_returns_new_images_until_full():
    history = ImageHistory(capacity=10)
    out = history.query(constant_images(0, 4))
    assert ids(out) == [0, 1, 2, 3] and len(history) == 4
    out = history.query(constant_images(4, 6))  # exactly fills it
    assert ids(out) == [4, 5, 6, 7, 8, 9] and len(history) == 10


def test_history_mixes_old_and_new_with_probability_one_half():
    history = ImageHistory(capacity=50, generator=torch.Generator().manual_seed(0))
    history.query(constant_images(0, 50))
    seen, old, n = set(range(50)), 0, 0
    for step in range(100):
        new = constant_images(1000 + 20 * step, 20)
        out = ids(history.query(new))
        for new_id, got in zip(ids(new), out):
            # the new image, or one stored earlier (images are taken in order, as in the reference
            # pool, so an earlier image of the same batch may come back)
            assert got == new_id or got in seen
            seen.add(new_id)
            old += got != new_id
            n += 1
        assert len(history) == 50  # never more than its capacity
    # 2000 draws, each old with probability 0.5: standard deviation 0.011
    assert old / n == pytest.approx(0.5, abs=0.04)


def test_history_returns_each_stored_image_at_most_once():
    history = ImageHistory(capacity=5, probability=1.0, generator=torch.Generator().manual_seed(1))
    history.query(constant_images(0, 5))
    out = ids(history.query(constant_images(100, 200)))
    # with probability 1 every new image is swapped in; an image returned from the buffer left it
    old = [i for i in out if i < 5]
    assert len(old) == len(set(old))
    assert len(history) == 5


def test_history_zero_capacity_and_state_dict_round_trip():
    x = torch.randn(7, 1, 2, 2)
    torch.testing.assert_close(ImageHistory(0).query(x), x)
    history = ImageHistory(capacity=8)
    history.query(torch.randn(5, 1, 2, 2))
    copy = ImageHistory(capacity=8)
    copy.load_state_dict(history.state_dict())
    torch.testing.assert_close(copy.images, history.images)


class Negate(nn.Module):
    def forward(self, x):
        return -x


def test_cycle_loss_is_zero_for_exact_inverses_and_positive_otherwise():
    x, y = torch.randn(16, 1, 8, 8), torch.randn(16, 1, 8, 8)
    d = ConvDiscriminator(width=4)
    exact = CycleGAN(Negate(), Negate(), d, d)
    assert float(exact.cycle_loss(x, y)) == 0.0
    torch.testing.assert_close(exact.cycle_x(x), x)
    wrong = CycleGAN(Negate(), nn.Identity(), d, d)  # F(G(x)) = -x: error 2|x| per pixel
    torch.testing.assert_close(wrong.cycle_loss(x, y), 2 * x.abs().mean() + 2 * y.abs().mean())
    assert float(cycle_consistency_loss(x, x + 0.5)) == pytest.approx(0.5)


def small_cyclegan(seed=0, **kwargs):
    torch.manual_seed(seed)
    return CycleGAN(ConvTranslator(width=4), ConvTranslator(width=4),
                    ConvDiscriminator(width=4), ConvDiscriminator(width=4), **kwargs)


def test_a_few_steps_change_every_player_and_keep_losses_finite():
    domains = igm.data.unpaired_digits("inverted")
    model = small_cyclegan(identity_weight=5.0, history=8)
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("_extra_state")}
    hist = igm.fit(model, domains.sampler(), steps=4, batch_size=16, seed=0)
    assert set(hist) == {"generators", "discriminators", "adversarial", "cycle", "identity", "D_X", "D_Y"}
    assert all(len(v) == 4 and all(torch.isfinite(torch.tensor(v))) for v in hist.values())
    after = model.state_dict()
    for prefix in ("generator_xy", "generator_yx", "discriminator_x", "discriminator_y"):
        changed = [not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)]
        assert all(changed), prefix
    assert len(model.history_x) == len(model.history_y) == 8
    y = model.translate_xy(domains.x.x[:5])
    assert y.shape == (5, 1, 8, 8) and not y.requires_grad and float(y.abs().max()) < 1


def test_learning_rate_follows_the_linear_decay():
    domains = igm.data.unpaired_digits("inverted")
    model = small_cyclegan(lr=1e-3, decay_start=0.5)
    lrs = []
    igm.fit(model, domains.sampler(), steps=8, batch_size=8, seed=0,
            callbacks=[lambda s: lrs.append([g["lr"] for o in s.optimizers.values() for g in o.param_groups])])
    # constant for steps 1-4, then (8 - t) / 4 of it after t updates
    expected = [1e-3] * 4 + [1e-3 * (8 - t) / 4 for t in range(5, 9)]
    for got, want in zip(lrs, expected):
        assert got == pytest.approx([want, want])
    constant = []
    igm.fit(small_cyclegan(lr=1e-3, decay_start=None), domains.sampler(), steps=3, batch_size=8,
            callbacks=[lambda s: constant.append(s.optimizers["generators"].param_groups[0]["lr"])])
    assert constant == [1e-3] * 3


def test_ablations_switch_off_cycle_and_history():
    x = torch.randn(8, 1, 8, 8)
    model = small_cyclegan(cycle_weight=0.0, history=0)
    out = model.generators_loss((x, x))
    torch.testing.assert_close(out["loss"], out["adversarial"])  # no cycle term
    torch.testing.assert_close(model.history_y.query(x), x)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"generator_xy": "G"}, TypeError, "generator_xy must be a torch.nn.Module"),
        ({"cycle_weight": -1.0}, ValueError, "cycle_weight must be >= 0"),
        ({"history": -1}, ValueError, "history must be >= 0"),
        ({"history": 2.5}, TypeError, "history must be an int"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
        ({"decay_start": 1.0}, ValueError, "decay_start must be a fraction"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    nets = dict(generator_xy=nn.Identity(), generator_yx=nn.Identity(),
                discriminator_x=ConvDiscriminator(width=4), discriminator_y=ConvDiscriminator(width=4))
    nets.update(kwargs)
    with pytest.raises(error, match=match):
        CycleGAN(**nets)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ImageHistory(capacity=-1), ValueError, "capacity must be >= 0"),
        (lambda: ImageHistory(probability=1.5), ValueError, "probability must be in"),
        (lambda: ImageHistory(3).query([1.0]), TypeError, "images must be a torch.Tensor"),
        (lambda: small_cyclegan().translate_xy(torch.zeros(8, 8)), ValueError, "x must be 4-D"),
        (lambda: cycle_consistency_loss(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 4, 4)), ValueError, "same shape"),
        (lambda: ConvTranslator(norm="batch"), ValueError, "unknown norm 'batch'; choose one of: instance, none"),
        (lambda: ConvTranslator(channels=1)(torch.zeros(2, 3, 8, 8)), ValueError, r"x must have shape \(N, 1, H, W\)"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_history_rejects_images_of_another_shape():
    history = ImageHistory(4)
    history.query(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="do not match the stored"):
        history.query(torch.zeros(2, 1, 4, 4))


def test_two_time_scale_learning_rates():
    model = small_cyclegan(lr=1e-4, lr_discriminators=4e-4)
    lrs = {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in model.players()}
    assert lrs == {"generators": 1e-4, "discriminators": 4e-4}
    assert small_cyclegan(lr_generators=3e-4).lr_discriminators == 2e-4
    with pytest.raises(ValueError, match="lr_generators must be > 0"):
        small_cyclegan(lr_generators=0.0)
