"""The options every LatentSampler takes: the generator's weight average (``ema``) and the
learning-rate decay (``decay_start``): the average equals the one computed by hand, resumes
bit-exactly from a checkpoint, is what ``sample`` draws from, and works with BatchNorm."""
import shutil

import pytest
import torch

import igmlib as igm
from igmlib.models import ALI, FGAN, GAN, GMMN, MMDGAN, WGAN, InfoGAN, MomentMatching
from igmlib.models.ema import GeneratorEMA
from igmlib.nets import MLP, ConvDiscriminator, ConvGenerator


def _mlp(n_in, n_out):
    return MLP(n_in, n_out, hidden=(8,))


def small_gan(seed=0, **kwargs):
    torch.manual_seed(seed)
    return GAN(MLP(2, 2, hidden=(16,)), MLP(2, 1, hidden=(16,)), 2, lr=2e-3, **kwargs)


def conv_gan(seed=0, **kwargs):
    torch.manual_seed(seed)
    return GAN(ConvGenerator(4, 8, width=4), ConvDiscriminator(8, width=4), 4, **kwargs)


def images(n=64, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def hand_average(snapshots, decay):
    """AveragedModel's rule: copy at the first update, then ema <- decay * ema + (1 - decay) * w."""
    ema = [t.clone() for t in snapshots[0]]
    for weights in snapshots[1:]:
        ema = [decay * e + (1 - decay) * w for e, w in zip(ema, weights)]
    return ema


def record(model, with_buffers=False):
    """A callback that keeps the generator's floating-point tensors after each step (= each generator update)."""
    seen = []

    def callback(state):
        tensors = [*model.generator.parameters(), *(model.generator.buffers() if with_buffers else ())]
        seen.append([t.detach().clone() for t in tensors if t.is_floating_point()])

    return seen, callback


def test_the_average_is_the_exponential_average_computed_by_hand():
    decay, steps = 0.8, 6
    model = small_gan(ema=decay)
    seen, callback = record(model)
    igm.fit(model, igm.data.ring(), steps=steps, batch_size=32, seed=0, callbacks=[callback])
    assert int(model.generator_ema.n_averaged) == steps
    for got, want in zip(model.generator_ema.module.parameters(), hand_average(seen, decay)):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    # the average lags behind the trained generator
    assert not all(torch.equal(a, b) for a, b in zip(model.generator_ema.module.parameters(), model.generator.parameters()))


def test_the_average_is_outside_every_player_and_needs_no_gradients():
    model = small_gan(ema=0.9)
    averaged = {id(p) for p in model.generator_ema.parameters()}
    assert averaged and not any(p.requires_grad for p in model.generator_ema.parameters())
    assert all(not averaged & {id(p) for p in player.parameters()} for player in model.players())
    generator_player = model.players()[1]
    assert generator_player.after_update is not None and model.players()[0].after_update is None
    igm.fit(model, igm.data.ring(), steps=2, batch_size=16, seed=0)
    assert not any(p.requires_grad for p in model.generator_ema.parameters())  # fit restores the flags


def test_checkpoint_resume_with_the_average_is_bit_exact(tmp_path):
    # as tests/test_train.py::test_checkpoint_round_trip_equals_uninterrupted_run, with ema on
    data = igm.data.ring()
    full, mid = tmp_path / "run.pt", tmp_path / "step10.pt"

    def keep_step_10(state):
        if state.step == 11:  # run.pt was written at the end of step 10
            shutil.copy(full, mid)

    model = small_gan(ema=0.9)
    history = igm.fit(model, data, steps=20, batch_size=32, seed=5, checkpoint=full, checkpoint_every=10,
                      callbacks=[keep_step_10])
    ckpt = igm.load_checkpoint(mid)
    assert int(ckpt["model"]["generator_ema.n_averaged"]) == 10
    assert any(k.startswith("generator_ema.module.") for k in ckpt["model"])

    fresh = small_gan(seed=99, ema=0.9)  # other initial weights: everything comes from the checkpoint
    resumed = igm.fit(fresh, data, steps=20, batch_size=32, seed=5, resume=mid)
    assert resumed == history
    assert int(fresh.generator_ema.n_averaged) == 20
    assert list(model.state_dict()) == list(fresh.state_dict())
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_sample_draws_from_the_average_and_ema_false_from_the_trained_generator():
    model = small_gan(ema=0.9)
    igm.fit(model, igm.data.ring(), steps=5, batch_size=32, seed=0)
    torch.manual_seed(1)
    averaged = model.sample(50)
    torch.manual_seed(1)
    torch.testing.assert_close(averaged, model.generator_ema.module(model.prior(50)), rtol=0, atol=0)
    torch.manual_seed(1)
    trained = model.sample(50, ema=False)
    torch.manual_seed(1)
    torch.testing.assert_close(trained, model.generator(model.prior(50)), rtol=0, atol=0)
    assert not torch.equal(averaged, trained)
    torch.manual_seed(1)
    torch.testing.assert_close(model.sample(50, ema=True), averaged, rtol=0, atol=0)
    # rsample and forward, which the losses use, run the trained generator
    torch.manual_seed(1)
    torch.testing.assert_close(model.rsample(50).detach(), trained, rtol=0, atol=0)
    model.rsample(8).sum().backward()
    assert all(p.grad is not None for p in model.generator.parameters())
    assert all(p.grad is None for p in model.generator_ema.parameters())


def test_without_ema_sample_uses_the_generator_and_ema_true_is_an_error():
    model = small_gan()
    assert model.generator_ema is None and model.sampling_generator() is model.generator
    assert all(p.after_update is None for p in model.players())
    with pytest.raises(ValueError, match=r"keeps no average of its generator: build it with ema=0.999"):
        model.sample(4, ema=True)


def test_batch_norm_generator_statistics_are_averaged_too():
    decay = 0.7
    model = conv_gan(ema=decay)
    seen, callback = record(model, with_buffers=True)
    igm.fit(model, images(), steps=4, batch_size=16, seed=0, callbacks=[callback])
    ema = model.generator_ema.module
    floats = [t for t in (*ema.parameters(), *ema.buffers()) if t.is_floating_point()]
    for got, want in zip(floats, hand_average(seen, decay)):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    # the integer BatchNorm counter is copied, not averaged
    counters = [b for b in ema.buffers() if not b.is_floating_point()]
    trained = [b for b in model.generator.buffers() if not b.is_floating_point()]
    assert counters and all(torch.equal(a, b) for a, b in zip(counters, trained))
    model.eval()  # the averaged running statistics
    x = model.sample(10)
    assert x.shape == (10, 1, 8, 8) and bool(torch.isfinite(x).all())


def test_generator_ema_checks_its_arguments():
    with pytest.raises(ValueError, match=r"ema must be a decay in \(0, 1\)"):
        GeneratorEMA(MLP(2, 2), 0.0)
    with pytest.raises(TypeError, match=r"ema must be a decay in \(0, 1\) such as 0.999, or None, got str"):
        GeneratorEMA(MLP(2, 2), "0.9")
    ema = GeneratorEMA(MLP(2, 2), 0.5)
    with pytest.raises(ValueError, match=r"pass the generator this average was built from"):
        ema.update_parameters(MLP(2, 2, hidden=(4,)))


# --------------------------------------------------------------------- every LatentSampler model
MODELS = {
    "GAN": lambda **kw: GAN(_mlp(2, 2), _mlp(2, 1), 2, **kw),
    "WGAN": lambda **kw: WGAN(_mlp(2, 2), _mlp(2, 1), 2, n_critic=2, **kw),
    "FGAN": lambda **kw: FGAN(_mlp(2, 2), _mlp(2, 1), 2, **kw),
    "FGAN(single_step)": lambda **kw: FGAN(_mlp(2, 2), _mlp(2, 1), 2, single_step=True, **kw),
    "MMDGAN": lambda **kw: MMDGAN(_mlp(2, 2), _mlp(2, 4), 2, n_critic=2, **kw),
    "MomentMatching": lambda **kw: MomentMatching(_mlp(2, 2), 2, **kw),
    "GMMN": lambda **kw: GMMN(_mlp(2, 2), 2, **kw),
    "ALI": lambda **kw: ALI(_mlp(2, 2), _mlp(2, 4), _mlp(4, 1), 2, **kw),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_latent_sampler_takes_ema_and_decay_start(name):
    torch.manual_seed(0)
    model = MODELS[name](ema=0.5, decay_start=0.5)
    assert isinstance(model.generator_ema, GeneratorEMA)
    players = model.players()
    assert all(p.scheduler is not None for p in players)
    with_generator = [p for p in players if any(m is model.generator for m in p.modules)]
    assert len(with_generator) == 1 and with_generator[0].after_update is not None
    seen = []
    igm.fit(model, igm.data.ring(), steps=4, batch_size=16, seed=0,
            callbacks=[lambda s: seen.append({k: o.param_groups[0]["lr"] for k, o in s.optimizers.items()})])
    assert int(model.generator_ema.n_averaged) == 4 * with_generator[0].updates
    assert all(lr == 0.0 for lr in seen[-1].values()) and all(lr > 0 for lr in seen[1].values())
    assert model.sample(5).shape == (5, 2)


def test_wgan_weight_clipping_runs_before_nothing_of_the_generator():
    # the critic keeps its own after_update (clipping); the EMA goes to the generator player only
    model = WGAN(_mlp(2, 2), _mlp(2, 1), 2, constraint="clip", ema=0.9)
    critic, generator = model.players()
    assert critic.after_update == model.clip_critic and generator.after_update is not None


def test_infogan_samples_and_figures_use_the_average_and_generate_the_trained_generator():
    torch.manual_seed(0)
    model = InfoGAN(ConvGenerator(4 + 10 + 2, 8, width=8), ConvDiscriminator(8, width=8, out_features=16), 4,
                    ema=0.9, loss="hinge")
    history = igm.fit(model, images(), steps=3, batch_size=16, seed=0)
    assert int(model.generator_ema.n_averaged) == 3 and all(len(v) == 3 for v in history.values())
    model.eval()
    z = model.prior(6)
    trained, averaged = model.generate(z, 2, torch.zeros(2)), model.generate(z, 2, torch.zeros(2), ema=True)
    assert not torch.equal(trained, averaged)
    torch.testing.assert_close(model.generate(z, 2, torch.zeros(2), ema=None), averaged, rtol=0, atol=0)
    torch.manual_seed(2)
    a = model.sample(6)
    torch.manual_seed(2)
    codes = model.sample_codes(6)
    want = model.generator_ema.module(torch.cat([model.prior(6), codes.one_hot, codes.continuous], dim=1))
    torch.testing.assert_close(a, want, rtol=0, atol=0)
    assert not torch.equal(model.traverse(steps=2), model.traverse(steps=2, ema=False))
    assert model.mutual_information_bound(20, seed=0) != model.mutual_information_bound(20, seed=0, ema=False)


def test_ali_reconstructs_with_the_average():
    torch.manual_seed(0)
    model = ALI(_mlp(2, 2), _mlp(2, 4), _mlp(4, 1), 2, ema=0.9)
    igm.fit(model, igm.data.ring(), steps=3, batch_size=16, seed=0)
    x = igm.data.ring().sample((8,))
    z = model.encode(x, mean=True)
    torch.testing.assert_close(model.reconstruct(x, mean=True), model.generator_ema.module(z), rtol=0, atol=0)
    torch.testing.assert_close(model.reconstruct(x, mean=True, ema=False), model.generator(z), rtol=0, atol=0)
