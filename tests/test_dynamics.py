"""Dirac-GAN dynamics: autograd Jacobians against the analytic eigenvalues, and the trajectories' behaviour."""
import pytest
import torch
import torch.nn.functional as F

from igmlib import dynamics as dy

GAMES = [  # (loss, penalty, weight, point where the Jacobian is taken)
    ("minimax", None, 1.0, (0.0, 0.0)),
    ("non_saturating", None, 1.0, (0.0, 0.0)),
    ("wasserstein", None, 1.0, (0.0, 0.0)),
    ("minimax", "r1", 0.3, (0.0, 0.0)),      # complex pair (gamma < 1)
    ("non_saturating", "r1", 3.0, (0.0, 0.0)),  # two real eigenvalues (gamma > 1)
    ("minimax", "gan_dp", 0.6, (0.0, 0.0)),
    ("wasserstein", "wgan_gp", 0.3, (0.0, 0.5)),   # one-sided: psi > 0
    ("wasserstein", "wgan_gp", 0.3, (0.0, -0.5)),  # and psi < 0
    (F.logsigmoid, "r1", 0.3, (0.0, 0.0)),       # a callable f: the GAN's, in minimax form
]


@pytest.mark.parametrize("loss, penalty, weight, point", GAMES)
def test_jacobian_eigenvalues_match_the_analytic_ones(loss, penalty, weight, point):
    J = dy.jacobian(point, loss=loss, penalty=penalty, weight=weight)
    a, c = dy.equilibrium_constants(loss, penalty, weight)
    torch.testing.assert_close(J, torch.tensor([[0.0, a], [-a, -c]], dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(dy.eigenvalues(J), dy.analytic_eigenvalues(a, c), atol=1e-6, rtol=0)


def test_paper_values():
    # Mescheder et al. 2018: f'(0) = 1/2 for the GAN, eigenvalues +-i/2; R1 gives -g/2 +- sqrt(g^2/4 - 1/4)
    torch.testing.assert_close(dy.analytic_eigenvalues(*dy.equilibrium_constants("minimax")),
                               torch.tensor([-0.5j, 0.5j], dtype=torch.complex128))
    g = 0.6
    torch.testing.assert_close(dy.analytic_eigenvalues(*dy.equilibrium_constants("minimax", "r1", g)),
                               torch.tensor([-0.3 - 0.4j, -0.3 + 0.4j], dtype=torch.complex128))


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
@pytest.mark.parametrize("penalty, weight", [(None, 1.0), ("r1", 0.5)])
def test_update_jacobian_matches_analytic(mode, penalty, weight):
    U = dy.update_jacobian(lr=0.1, mode=mode, loss="minimax", penalty=penalty, weight=weight)
    a, c = dy.equilibrium_constants("minimax", penalty, weight)
    torch.testing.assert_close(dy.eigenvalues(U), dy.analytic_update_eigenvalues(a, c, 0.1, mode), atol=1e-9, rtol=0)


def test_trajectories_diverge_circle_or_converge():
    start = torch.tensor([1.0, 1.0], dtype=torch.float64)
    radius = lambda path: path.norm(dim=1)
    sim = dy.trajectory(start, steps=400, lr=0.1, mode="simultaneous", loss="minimax")
    alt = dy.trajectory(start, steps=400, lr=0.1, mode="alternating", loss="minimax")
    r1 = dy.trajectory(start, steps=400, lr=0.1, mode="simultaneous", loss="minimax", penalty="r1", weight=1.0)
    assert sim.shape == (401, 2)
    assert float(radius(sim)[-1]) > 1.2 * float(radius(sim)[0])       # spirals outwards
    assert 0.5 < float(radius(alt)[-100:].min()) and float(radius(alt).max()) < 2.5  # keeps circling
    assert float(radius(r1)[-1]) < 0.05                                 # converges to (0, 0)


def test_field_on_grid_matches_pointwise():
    th, ps = torch.meshgrid(torch.linspace(-1, 1, 3), torch.linspace(-1, 1, 4), indexing="ij")
    u, v = dy.field_on_grid(th, ps, loss="non_saturating")
    assert u.shape == (3, 4)
    pt = dy.vector_field(torch.tensor([th[2, 1], ps[2, 1]]), loss="non_saturating")
    torch.testing.assert_close(torch.stack([u[2, 1], v[2, 1]]), pt)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dy.vector_field(torch.zeros(2), loss="hinge"), r"unknown loss 'hinge'; choose one of: minimax, non_saturating, wasserstein"),
        (lambda: dy.vector_field(torch.zeros(2), penalty="r3"), r"unknown penalty 'r3'; choose one of: gan_dp, r1, wgan_gp"),
        (lambda: dy.vector_field(torch.zeros(3)), r"point must have shape \(2,\)"),
        (lambda: dy.trajectory((1.0, 1.0), steps=3, lr=0.1, mode="jacobi"), r"unknown mode 'jacobi'"),
        (lambda: dy.update((1.0, 1.0), lr=-0.1), r"lr must be > 0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
