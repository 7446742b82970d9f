"""Toy distributions (exact log-densities, shapes) and image data (digits, the IDX reader)."""
import gzip
import hashlib
import math
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pooch
import pytest
import torch
from scipy import stats
from torch import distributions as D

import igmlib as igm
from igmlib.data import images as image_module
from igmlib.data import load_idx_pair, read_idx


def mixture_log_prob(x, centres, std, weights=None):
    """Hand-written log-density of an isotropic Gaussian mixture: logsumexp_k log w_k + log N(x; c_k, std^2 I)."""
    k = centres.shape[0]
    weights = torch.full((k,), 1.0 / k) if weights is None else weights / weights.sum()
    comp = D.Normal(centres[None], std).log_prob(x[:, None]).sum(-1)  # (N, K)
    return torch.logsumexp(comp + weights.log(), dim=1)


# ---------------------------------------------------------------- ring, grid, mixtures

def test_ring_centres_counts_std():
    data = igm.data.ring(modes=8, radius=2.0, std=0.02)
    centres = data.component_distribution.mean
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(centres[:, 1], centres[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(angles, 2 * math.pi * torch.arange(8.0) / 8, atol=1e-6, rtol=0)
    torch.testing.assert_close(data.component_distribution.stddev, torch.full((8, 2), 0.02))
    torch.testing.assert_close(data.mixture_distribution.probs, torch.full((8,), 1 / 8))
    assert data.event_shape == (2,)


def test_ring_other_sizes():
    data = igm.data.ring(modes=5, radius=3.5, std=0.1)
    torch.testing.assert_close(data.component_distribution.mean.norm(dim=1), torch.full((5,), 3.5))


def test_grid_centres():
    data = igm.data.grid()
    centres = data.component_distribution.mean
    assert centres.shape == (25, 2)
    got = sorted(tuple(c) for c in centres.round().int().tolist())
    want = sorted((a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4))
    assert got == want
    torch.testing.assert_close(centres, centres.round())  # exactly on the integer grid
    torch.testing.assert_close(data.component_distribution.stddev, torch.full((25, 2), 0.05))
    # an even grid is centred too: size 2, spacing 1 -> {-0.5, 0.5}^2
    torch.testing.assert_close(igm.data.grid(size=2, spacing=1.0).component_distribution.mean.abs(), torch.full((4, 2), 0.5))


@pytest.mark.parametrize("make", [lambda: igm.data.ring(), lambda: igm.data.grid(), lambda: igm.data.ring(modes=3, std=0.5)])
def test_mixture_log_prob_matches_hand_computed(make):
    data = make()
    centres = data.component_distribution.mean
    std = data.component_distribution.stddev[0, 0]
    gen = torch.Generator().manual_seed(0)
    # points at the centres, near them and far away
    x = torch.cat([centres[:3], centres[:3] + 0.03 * torch.randn(3, 2, generator=gen), 3 * torch.randn(4, 2, generator=gen)])
    torch.testing.assert_close(data.log_prob(x), mixture_log_prob(x, centres, std))


def test_ring_log_prob_at_a_centre_is_analytic():
    # at a centre, the other modes contribute nothing: log(1/8) - log(2 pi std^2)
    data = igm.data.ring(std=0.02)
    value = data.log_prob(data.component_distribution.mean[:1])
    torch.testing.assert_close(value, torch.tensor([math.log(1 / 8) - math.log(2 * math.pi * 0.02**2)]))


def test_gaussian_mixture_weights_and_1d_means():
    data = igm.data.gaussian_mixture([-1.0, 2.0], [0.5, 1.0], weights=[1.0, 3.0])
    assert data.event_shape == (1,)
    torch.testing.assert_close(data.mixture_distribution.probs, torch.tensor([0.25, 0.75]))
    x = torch.tensor([[-1.0], [0.0], [2.5]])
    want = torch.logsumexp(
        torch.stack([math.log(0.25) + D.Normal(-1.0, 0.5).log_prob(x[:, 0]), math.log(0.75) + D.Normal(2.0, 1.0).log_prob(x[:, 0])]),
        dim=0,
    )
    torch.testing.assert_close(data.log_prob(x), want)
    samples = data.sample((20000,))
    torch.testing.assert_close(samples.mean(), torch.tensor(0.25 * -1 + 0.75 * 2), atol=0.05, rtol=0)


@pytest.mark.parametrize(
    "make, n, d",
    [(igm.data.ring, 7, 2), (igm.data.grid, 1, 2), (igm.data.lognormal, 9, 1), (igm.data.beta, 4, 1), (igm.data.parallel_line, 6, 2)],
)
def test_sample_shapes(make, n, d):
    data = make()
    assert data.event_shape == (d,)
    x = data.sample((n,))
    assert x.shape == (n, d) and x.dtype == torch.float32
    assert data.log_prob(x).shape == (n,)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: igm.data.gaussian_mixture([[0.0, 0.0], [1.0, 1.0]], [0.1, 0.2, 0.3]), ValueError, r"stds must be a number or have shape \(2,\)"),
        (lambda: igm.data.gaussian_mixture([0.0, 1.0], [0.1, -0.2]), ValueError, r"stds must be > 0"),
        (lambda: igm.data.gaussian_mixture([0.0, 1.0], 0.1, weights=[1.0]), ValueError, r"weights must have shape \(2,\)"),
        (lambda: igm.data.gaussian_mixture([0.0, 1.0], 0.1, weights=[1.0, 0.0]), ValueError, r"weights must be > 0"),
        (lambda: igm.data.gaussian_mixture([], 0.1), ValueError, r"means must have shape \(K,\) or \(K, d\) with K >= 1"),
        (lambda: igm.data.gaussian_mixture("ab", 0.1), TypeError, r"means must be a sequence of numbers"),
        (lambda: igm.data.ring(modes=0), ValueError, r"modes must be > 0"),
        (lambda: igm.data.ring(std=-0.1), ValueError, r"std must be > 0"),
        (lambda: igm.data.grid(size=2.5), TypeError, r"size must be an int"),
        (lambda: igm.data.lognormal(sigma=0), ValueError, r"sigma must be > 0"),
        (lambda: igm.data.beta(a=-1), ValueError, r"a must be > 0"),
        (lambda: igm.data.parallel_line("1"), TypeError, r"theta must be a number, got str"),
    ],
)
def test_toy_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- 1-D toys

@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (0.5, 0.25)])
def test_lognormal_log_prob_matches_scipy(mu, sigma):
    x = np.array([0.1, 0.5, 1.0, 2.0, 7.0])
    got = igm.data.lognormal(mu, sigma).log_prob(torch.tensor(x, dtype=torch.float32)[:, None])
    want = stats.lognorm(s=sigma, scale=math.exp(mu)).logpdf(x)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32))


@pytest.mark.parametrize("a, b", [(2.0, 5.0), (0.5, 0.5)])
def test_beta_log_prob_matches_scipy(a, b):
    x = np.array([0.05, 0.3, 0.5, 0.9])
    got = igm.data.beta(a, b).log_prob(torch.tensor(x, dtype=torch.float32)[:, None])
    torch.testing.assert_close(got, torch.tensor(stats.beta(a, b).logpdf(x), dtype=torch.float32))


def test_beta_samples_in_unit_interval_with_right_mean():
    torch.manual_seed(0)
    x = igm.data.beta(2.0, 5.0).sample((20000,))
    assert bool(((x > 0) & (x < 1)).all())
    torch.testing.assert_close(x.mean(), torch.tensor(2 / 7), atol=0.01, rtol=0)


# ---------------------------------------------------------------- parallel line

@pytest.mark.parametrize("theta", [0.0, -1.5, 3])
def test_parallel_line_samples_and_log_prob(theta):
    torch.manual_seed(0)
    line = igm.data.parallel_line(theta)
    x = line.sample((500,))
    assert bool((x[:, 0] == theta).all())
    assert bool(((x[:, 1] >= 0) & (x[:, 1] <= 1)).all())
    assert float(x[:, 1].min()) < 0.05 and float(x[:, 1].max()) > 0.95  # covers the segment
    torch.testing.assert_close(line.log_prob(x), torch.zeros(500))
    off = torch.tensor([[theta + 0.1, 0.5], [theta, 1.1], [theta, -0.1], [theta - 2.0, 0.0]])
    assert torch.equal(line.log_prob(off), torch.full((4,), -math.inf))
    torch.testing.assert_close(line.mean, torch.tensor([float(theta), 0.5]))


def test_parallel_line_rsample_and_single_sample_shape():
    line = igm.data.parallel_line(2.0)
    assert line.sample().shape == (2,)
    assert line.rsample((3, 4)).shape == (3, 4, 2)


# ---------------------------------------------------------------- digits

def test_digits_shapes_range_labels():
    train, test = igm.data.digits("train"), igm.data.digits("test")
    assert train.x.shape == (1437, 1, 8, 8) and test.x.shape == (360, 1, 8, 8)
    assert train.y.shape == (1437,) and test.y.shape == (360,)
    for part in (train, test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert float(part.x.min()) == -1.0 and float(part.x.max()) == 1.0
        assert sorted(part.y.unique().tolist()) == list(range(10))
    # pixels are k/16 for integers k in 0..16, mapped to 2k/16 - 1
    k = (train.x + 1) * 8
    torch.testing.assert_close(k, k.round())


def _sorted_rows(x, y):
    rows = torch.cat([x.reshape(len(x), -1), y[:, None].float()], dim=1).numpy()
    return rows[np.lexsort(rows.T[::-1])]


def test_digits_split_is_a_partition_deterministic_and_stratified():
    train, test, everything = igm.data.digits("train"), igm.data.digits("test"), igm.data.digits("all")
    assert len(everything.y) == 1797
    # train and test together are exactly all images (as a multiset): disjoint and covering
    np.testing.assert_array_equal(
        _sorted_rows(torch.cat([train.x, test.x]), torch.cat([train.y, test.y])), _sorted_rows(everything.x, everything.y)
    )
    again = igm.data.digits("train")
    assert torch.equal(again.x, train.x) and torch.equal(again.y, train.y)
    other = igm.data.digits("train", seed=1)
    assert not torch.equal(other.y, train.y)
    # stratified: each class holds out 20% of its images, up to rounding
    all_counts = torch.bincount(everything.y, minlength=10).double()
    test_counts = torch.bincount(test.y, minlength=10).double()
    assert bool(((test_counts - 0.2 * all_counts).abs() <= 1).all())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"split": "val"}, ValueError, r"unknown split 'val'; choose one of: all, test, train"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be in \(0, 1\)"),
        ({"test_fraction": 0}, ValueError, r"test_fraction must be > 0"),
    ],
)
def test_digits_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        igm.data.digits(**kwargs)


# ---------------------------------------------------------------- IDX files

def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """Encode an array in the IDX format: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    dtypes = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}
    header = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(dtypes[code]).tobytes()


def write(path, payload: bytes):
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


@pytest.fixture
def idx_pair():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    return images, labels


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, idx_pair, suffix):
    images, labels = idx_pair
    x = read_idx(write(tmp_path / f"images-idx3-ubyte{suffix}", idx_bytes(images)))
    y = read_idx(write(tmp_path / f"labels-idx1-ubyte{suffix}", idx_bytes(labels)))
    assert x.dtype == torch.uint8 and x.shape == (6, 5, 4)
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), labels)


@pytest.mark.parametrize("code, dtype", [(0x0C, np.int32), (0x0D, np.float32)])
def test_read_idx_big_endian_types(tmp_path, code, dtype):
    array = np.array([[1, -2, 300000], [4, 5, -6]], dtype=dtype)
    x = read_idx(write(tmp_path / "values.idx", idx_bytes(array, code)))
    np.testing.assert_array_equal(x.numpy(), array)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_idx_pair(tmp_path, idx_pair, suffix):
    images, labels = idx_pair
    out = load_idx_pair(
        write(tmp_path / f"im{suffix}", idx_bytes(images)), write(tmp_path / f"lb{suffix}", idx_bytes(labels))
    )
    assert out.x.shape == (6, 1, 5, 4) and out.x.dtype == torch.float32
    assert out.y.dtype == torch.int64
    torch.testing.assert_close(out.x[:, 0], torch.tensor(images, dtype=torch.float32) / 127.5 - 1)
    assert float(out.x[0, 0, 0, 0]) == -1.0 and float(out.x[0, 0, 0, 1]) == 1.0
    assert out.y.tolist() == labels.tolist()


def test_read_idx_errors(tmp_path, idx_pair):
    images, _ = idx_pair
    good = idx_bytes(images)
    cases = [
        (b"\x01\x02" + good[2:], r"is not an IDX file: the first two bytes must be 0"),
        (b"\x00", r"is not an IDX file"),
        (good[:2] + b"\x07" + good[3:], r"unknown IDX type code 0x7"),
        (good[:9], r"truncated IDX header \(9 bytes for 3 dimensions\)"),
        (good[:-5], r"header promises 120 values of shape \(6, 5, 4\), file holds 115"),
        (good + b"\x00", r"header promises 120 values"),
    ]
    for i, (payload, match) in enumerate(cases):
        with pytest.raises(ValueError, match=match):
            read_idx(write(tmp_path / f"bad{i}", payload))


def test_read_idx_truncated_gzip(tmp_path, idx_pair):
    path = write(tmp_path / "images.gz", idx_bytes(idx_pair[0]))
    path.write_bytes(path.read_bytes()[:-20])  # a download cut short
    with pytest.raises(ValueError, match=r"is not a complete gzip file"):
        read_idx(path)


def test_load_idx_pair_errors(tmp_path, idx_pair):
    images, labels = idx_pair
    im, lb = write(tmp_path / "im", idx_bytes(images)), write(tmp_path / "lb", idx_bytes(labels[:5]))
    with pytest.raises(ValueError, match=r"5 labels for 6 images"):
        load_idx_pair(im, lb)
    flat = write(tmp_path / "flat", idx_bytes(images.reshape(6, 20)))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, H, W\), got \(6, 20\)"):
        load_idx_pair(flat, write(tmp_path / "lb6", idx_bytes(labels)))


# ---------------------------------------------------------------- MNIST / Fashion-MNIST loaders (no network)

LOADERS = {"mnist": igm.data.mnist, "fashion_mnist": igm.data.fashion_mnist}


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails as it would offline."""

    def offline(self, url, output_file, pooch_obj, check_only=False):
        raise ConnectionError(f"no network in tests ({url})")

    monkeypatch.setattr(pooch.downloaders.HTTPDownloader, "__call__", offline)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_idx_files(folder, dataset, monkeypatch, n=(5, 3), gz=True):
    """Write small 28x28 IDX files under the dataset's file names and make their hashes the known
    ones: the .gz table's with ``gz``, else the table of uncompressed files' hashes."""
    rng = np.random.default_rng(1)
    table = {key: value for key, value in image_module.IDX_DATASETS[dataset].items()}
    raw_table = {}
    arrays = {}
    for split, count in zip(("train", "test"), n):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        arrays[split] = images, labels
        files = []
        for (name, digest), array in zip(table[split], (images, labels)):
            path = write(folder / (name if gz else name[:-3]), idx_bytes(array))
            files.append((name, "sha256:" + sha256(path)) if gz else (name, digest))
            raw_table[name[:-3]] = sha256(path)
        table[split] = tuple(files)
    monkeypatch.setitem(image_module.IDX_DATASETS, dataset, table)
    monkeypatch.setitem(image_module.IDX_RAW_SHA256, dataset, {} if gz else raw_table)
    return arrays


@pytest.mark.parametrize("dataset", sorted(LOADERS))
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_dataset_loads_from_root(tmp_path, monkeypatch, no_network, dataset, split, gz):
    arrays = fake_idx_files(tmp_path, dataset, monkeypatch, gz=gz)
    out = LOADERS[dataset](split, root=tmp_path)
    images, labels = arrays[split]
    assert out.x.shape == (len(labels), 1, 28, 28) and out.x.dtype == torch.float32
    assert out.y.dtype == torch.int64 and out.y.tolist() == labels.tolist()
    torch.testing.assert_close(out.x[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert -1 <= float(out.x.min()) and float(out.x.max()) <= 1


def test_igm_cache_sets_the_data_folder(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("IGM_CACHE", str(tmp_path))
    assert igm.data.data_dir("fashion_mnist") == tmp_path / "fashion_mnist"
    (tmp_path / "fashion_mnist").mkdir()
    arrays = fake_idx_files(tmp_path / "fashion_mnist", "fashion_mnist", monkeypatch)
    assert igm.data.fashion_mnist("test").y.tolist() == arrays["test"][1].tolist()


@pytest.mark.parametrize("dataset", sorted(LOADERS))
def test_offline_without_files_says_where_to_put_them(tmp_path, no_network, dataset):
    with pytest.raises(OSError, match=rf"{dataset} needs its file train-images-idx3-ubyte.gz, which is not in "
                                      r".*ConnectionError: no network.*pass their folder as root=\.\.\., or set "
                                      r"\$IGM_CACHE .*The book's default data .* need no download"):
        LOADERS[dataset]("train", root=tmp_path)


def test_a_file_with_the_wrong_checksum_is_reported_and_moved_aside(tmp_path, no_network):
    bad = write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((2, 28, 28), np.uint8)))  # not the real file
    got = sha256(bad)
    expected = dict(image_module.IDX_DATASETS["mnist"]["test"])["t10k-images-idx3-ubyte.gz"][len("sha256:"):]
    aside = tmp_path / f"t10k-images-idx3-ubyte.gz.corrupt-{got[:8]}"
    with pytest.raises(OSError, match=rf"mnist needs its file t10k-images-idx3-ubyte.gz; {re.escape(str(bad))} does not "
                                      rf"match its published checksum: expected SHA-256 {expected}, got {got} .*moved "
                                      rf"aside to {re.escape(str(aside))}, and not used; "
                                      r"and a fresh copy could not be downloaded \(.*ConnectionError"):
        igm.data.mnist("test", root=tmp_path)
    assert not bad.exists()  # never read again under its name
    assert sha256(aside) == got


def test_a_corrupt_file_is_replaced_by_a_fresh_download(tmp_path, monkeypatch):
    arrays = fake_idx_files(tmp_path, "mnist", monkeypatch)
    good = (tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(good[:-8])  # a download cut short

    def download(self, url, output_file, pooch_obj, check_only=False):  # the mirror serves the good file
        Path(output_file).write_bytes(good)

    monkeypatch.setattr(pooch.downloaders.HTTPDownloader, "__call__", download)
    with pytest.warns(UserWarning, match=r"t10k-labels-idx1-ubyte.gz does not match its published checksum.*"
                                         r"moved aside.*downloaded a fresh copy"):
        out = igm.data.mnist("test", root=tmp_path)
    assert out.y.tolist() == arrays["test"][1].tolist()
    assert (tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes() == good
    assert len(list(tmp_path.glob("t10k-labels-idx1-ubyte.gz.corrupt-*"))) == 1


def test_an_uncompressed_file_is_checked_against_the_table_of_uncompressed_hashes(tmp_path, monkeypatch, no_network):
    fake_idx_files(tmp_path, "fashion_mnist", monkeypatch, gz=False)
    raw = tmp_path / "train-labels-idx1-ubyte"
    expected = sha256(raw)
    raw.write_bytes(raw.read_bytes()[:-1] + b"\x07")  # one label changed: still a valid IDX file
    got = sha256(raw)
    with pytest.raises(OSError, match=rf"{re.escape(str(raw))} does not match its published checksum: expected "
                                      rf"SHA-256 {expected}, got {got}"):
        igm.data.fashion_mnist("train", root=tmp_path)
    assert not raw.exists() and (tmp_path / f"train-labels-idx1-ubyte.corrupt-{got[:8]}").exists()


def test_an_uncompressed_file_alone_cannot_be_checked(tmp_path, monkeypatch, no_network):
    fake_idx_files(tmp_path, "mnist", monkeypatch, gz=False)
    monkeypatch.setitem(image_module.IDX_RAW_SHA256, "mnist", {})  # the real table: no uncompressed hashes
    with pytest.raises(OSError, match=r"mnist needs its file train-images-idx3-ubyte.gz; .*train-images-idx3-ubyte "
                                      r"cannot be checked on its own .*put train-images-idx3-ubyte.gz next to it"):
        igm.data.mnist("train", root=tmp_path)
    assert (tmp_path / "train-images-idx3-ubyte").exists()  # not known bad: left in place


def test_an_uncompressed_file_must_be_the_gunzip_of_the_verified_gz(tmp_path, monkeypatch, no_network):
    arrays = fake_idx_files(tmp_path, "mnist", monkeypatch)
    images, labels = arrays["train"]
    same = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))  # the gunzip of the .gz: accepted
    other = write(tmp_path / "train-labels-idx1-ubyte", idx_bytes((labels + 1) % 10))  # differs: moved aside
    got = sha256(other)
    reads = []
    monkeypatch.setattr(image_module, "read_idx", lambda path: reads.append(Path(path).name) or read_idx(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = igm.data.mnist("train", root=tmp_path)
    assert [str(w.message) for w in caught] == [
        f"mnist: {other} does not match its published checksum: expected SHA-256 "
        f"{hashlib.sha256(gzip.decompress((tmp_path / 'train-labels-idx1-ubyte.gz').read_bytes())).hexdigest()}, got {got} "
        f"(a download cut short, or another file under this name); it was moved aside to "
        f"{tmp_path / ('train-labels-idx1-ubyte.corrupt-' + got[:8])}, and not used; using {tmp_path / 'train-labels-idx1-ubyte.gz'}"
    ]
    assert reads == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz"]
    assert out.y.tolist() == labels.tolist()
    assert same.exists() and not other.exists() and (tmp_path / f"train-labels-idx1-ubyte.corrupt-{got[:8]}").exists()


@pytest.mark.parametrize("dataset", sorted(LOADERS))
def test_idx_dataset_bad_split(tmp_path, dataset):
    with pytest.raises(ValueError, match=r"unknown split 'all'; choose one of: test, train"):
        LOADERS[dataset]("all", root=tmp_path)
