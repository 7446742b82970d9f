"""Image data: scikit-learn's bundled 8x8 digits (offline) and an MNIST-style IDX loader.

Images are float tensors ``(N, 1, H, W)`` with pixels in [-1, 1]; labels are int64 ``(N,)``.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .._validation import check_choice, check_positive
from ..runtime import cache_dir

SPLITS = ("train", "test", "all")


class Images(NamedTuple):
    """Images ``x`` of shape ``(N, C, H, W)`` in [-1, 1] and their labels ``y`` of shape ``(N,)``."""

    x: torch.Tensor
    y: torch.Tensor


def to_unit_range(x: torch.Tensor, max_value: float) -> torch.Tensor:
    """Map pixels in ``[0, max_value]`` to ``[-1, 1]``."""
    return x.float() * (2.0 / max_value) - 1.0


def digits(split: str = "train", *, test_fraction: float = 0.2, seed: int = 0) -> Images:
    """scikit-learn's 1,797 handwritten 8x8 digits (bundled, no download), scaled to [-1, 1].

    The train/test split is stratified by label and fixed by ``seed``: the default gives 1,437
    training and 360 test images.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        test_fraction: fraction of images held out for ``"test"``, in (0, 1).
        seed: seed of the split.

    Returns:
        :class:`Images` with ``x`` of shape ``(N, 1, 8, 8)`` (float32, pixels in [-1, 1]) and ``y``
        of shape ``(N,)`` (int64 in 0..9).

    Raises:
        ValueError: unknown ``split`` or ``test_fraction`` outside (0, 1).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    check_choice(split, "split", SPLITS)
    check_positive(test_fraction, "test_fraction")
    if test_fraction >= 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = load_digits()
    x = to_unit_range(torch.from_numpy(bunch.images).reshape(-1, 1, 8, 8), 16.0)
    y = torch.from_numpy(bunch.target).long()
    if split == "all":
        return Images(x, y)
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=bunch.target
    )
    idx = torch.from_numpy(np.sort(idx_train if split == "train" else idx_test))
    return Images(x[idx].contiguous(), y[idx].contiguous())


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an IDX file (the MNIST format), gzipped or not.

    Returns:
        A uint8 (or the file's dtype) tensor with the shape stored in the file.

    Raises:
        ValueError: the file is not a valid IDX file (bad magic number or truncated data).

    References:
        LeCun et al., http://yann.lecun.com/exdb/mnist/ (file format section).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        try:
            raw = f.read()
        except (EOFError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path} is not a complete gzip file ({err}): download it again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file: the first two bytes must be 0")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX type code {raw[2]:#x}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(dtypes[raw[2]])
    count = int(np.prod(shape)) if shape else 1
    body = raw[4 + 4 * ndim :]
    if len(body) != count * dtype.itemsize:
        raise ValueError(f"{path}: header promises {count} values of shape {shape}, file holds {len(body) // dtype.itemsize}")
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("=")).copy())


# The IDX files of each dataset with their SHA-256 checksums. No SHA-256 is published by the
# datasets' authors (LeCun's page lists none; Zalando's README lists MD5s): these are the values
# that several independent public download scripts agree on (e.g. the ones TensorFlow's and
# torchvision's MNIST mirrors serve). Mirrors are tried in order.
IDX_DATASETS = {
    "mnist": {
        "urls": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        "train": (
            ("train-images-idx3-ubyte.gz", "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            ("train-labels-idx1-ubyte.gz", "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ),
        "test": (
            ("t10k-images-idx3-ubyte.gz", "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            ("t10k-labels-idx1-ubyte.gz", "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ),
    },
    "fashion_mnist": {
        "urls": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "train": (
            ("train-images-idx3-ubyte.gz", "sha256:08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"),
            ("train-labels-idx1-ubyte.gz", "sha256:b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"),
        ),
        "test": (
            ("t10k-images-idx3-ubyte.gz", "sha256:78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"),
            ("t10k-labels-idx1-ubyte.gz", "sha256:42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
        ),
    },
}


# SHA-256 of the *uncompressed* IDX files (the gunzip of the .gz files above), by dataset and file
# name. Empty on purpose: no authority publishes them, and a value is recorded here only once it
# has been computed from a .gz whose SHA-256 matched the table above. Until then an uncompressed
# file is accepted only as the gunzip of a verified .gz in the same folder (see _fetch).
IDX_RAW_SHA256: dict[str, dict[str, str]] = {"mnist": {}, "fashion_mnist": {}}


def load_idx_pair(images_path, labels_path) -> Images:
    """Read an images/labels pair of IDX files into :class:`Images` (``(N, 1, H, W)`` in [-1, 1]).

    Raises:
        ValueError: the files are not IDX, the images are not 3-D, or the counts differ.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dim() != 3:
        raise ValueError(f"{images_path}: expected images of shape (N, H, W), got {tuple(images.shape)}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images")
    return Images(to_unit_range(images[:, None], 255.0), labels.long())


def data_dir(dataset: str) -> Path:
    """The cache folder of a downloaded dataset: ``igmlib.runtime.cache_dir() / dataset``, i.e.
    ``$IGM_CACHE/<dataset>`` if ``IGM_CACHE`` is set, else in pooch's per-user cache folder for
    igmlib (e.g. ``~/.cache/igmlib/<dataset>``)."""
    return cache_dir() / dataset


def _sha256(path: Path, *, gunzip: bool = False) -> str:
    """SHA-256 (hex) of a file, or of its decompressed content with ``gunzip``, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with (gzip.open if gunzip else open)(path, "rb") as f:
        while piece := f.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def _reject(path: Path, expected: str, got: str) -> str:
    """Move a file whose SHA-256 is wrong aside, to ``<name>.corrupt-<first 8 hex of got>``; say so."""
    aside = path.with_name(f"{path.name}.corrupt-{got[:8]}")
    try:
        os.replace(path, aside)
        where = f"moved aside to {aside}"
    except OSError as err:
        where = f"could not be moved aside ({err}): delete or replace it"
    return (f"{path} does not match its published checksum: expected SHA-256 {expected}, got {got} "
            f"(a download cut short, or another file under this name); it was {where}, and not used")


def _local_file(dataset: str, name: str, expected: str, root: Path) -> tuple[Path | None, list[str]]:
    """The verified copy of ``name`` in ``root`` (the .gz, or its uncompressed version), or None;
    and what was wrong with the copies found. Files with a wrong checksum are moved aside."""
    gz, raw = root / name, root / name[: -len(".gz")]
    problems, good_gz = [], None
    if gz.is_file():
        got = _sha256(gz)
        if got == expected:
            good_gz = gz
        else:
            problems.append(_reject(gz, expected, got))
    if raw.is_file():
        want = IDX_RAW_SHA256.get(dataset, {}).get(raw.name)
        if want is None and good_gz is not None:
            want = _sha256(good_gz, gunzip=True)  # the uncompressed file must be the gunzip of the .gz
        if want is None:
            problems.append(f"{raw} cannot be checked on its own (igmlib records the SHA-256 of the published "
                            f".gz files only): put {name} next to it")
        else:
            got = _sha256(raw)
            if got == want:
                return raw, problems
            problems.append(_reject(raw, want, got))
    return good_gz, problems


def _fetch(dataset: str, name: str, known_hash: str, root: Path) -> Path:
    """Return a verified copy of ``name`` in ``root``, downloading it first if needed.

    Every file is checked by SHA-256 before use: ``root/name`` (the .gz) against ``known_hash``;
    its uncompressed version (``name`` without ``.gz``) against :data:`IDX_RAW_SHA256` if recorded
    there, else against the gunzip of a verified ``root/name`` (an uncompressed file alone cannot
    be checked: the .gz is then downloaded). A file with the wrong checksum is moved aside to
    ``<file>.corrupt-<hash8>`` and reported (a warning if a verified copy is used instead); the .gz
    is then downloaded again if needed (pooch checks it).

    Raises:
        OSError: no verified copy and no download; the message gives each mismatch (path, expected
            and actual SHA-256, where the file went) and the download errors.
    """
    import pooch

    expected = known_hash.split(":", 1)[-1].lower()
    path, problems = _local_file(dataset, name, expected, root)
    if path is not None:
        for problem in problems:  # a bad uncompressed copy next to a verified .gz
            warnings.warn(f"{dataset}: {problem}; using {path}", stacklevel=2)
        return path
    errors = []
    for url in IDX_DATASETS[dataset]["urls"]:
        try:
            path = Path(pooch.retrieve(url + name, known_hash=known_hash, fname=name, path=root, progressbar=False))
        except (OSError, ValueError) as err:  # offline / HTTP errors (requests' are OSErrors), checksum mismatch
            errors.append(f"{url}{name}: {type(err).__name__}: {err}")
            continue
        for problem in problems:
            warnings.warn(f"{dataset}: {problem}; downloaded a fresh copy to {path}", stacklevel=2)
        return path
    found = f"; {'; '.join(problems)}; and a fresh copy could not be downloaded" if problems else \
        f", which is not in {root} and could not be downloaded"
    raise OSError(
        f"{dataset} needs its file {name}{found} ({'; '.join(errors)}). Download the four IDX files elsewhere "
        f"and pass their folder as root=..., or set $IGM_CACHE (they are then looked for in $IGM_CACHE/{dataset}). "
        "The book's default data (igm.data.digits and the toy distributions) are bundled and need no download."
    )


def _load_idx_dataset(dataset: str, split: str, root) -> Images:
    check_choice(split, "split", ("train", "test"))
    root = Path(root).expanduser() if root is not None else data_dir(dataset)
    paths = [_fetch(dataset, name, digest, root) for name, digest in IDX_DATASETS[dataset][split]]
    return load_idx_pair(*paths)


def mnist(split: str = "train", *, root: str | os.PathLike | None = None) -> Images:
    """MNIST handwritten digits (28x28), downloaded once with ``pooch`` and checked by SHA-256.

    Needs internet on first use (Colab, a workstation). Files are kept in ``root`` if given, else
    in :func:`data_dir` (``$IGM_CACHE/mnist`` or pooch's cache folder). Offline, put the four files
    ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz`` in a folder and pass it as ``root``.

    Integrity: every file is checked by its SHA-256 before it is read. The .gz files against the
    table ``IDX_DATASETS``; an uncompressed file (``train-images-idx3-ubyte``, e.g. from another
    library's cache) is used only if it is the gunzip of the verified .gz next to it (no checksum
    of the uncompressed files is published, so one alone cannot be checked). A file with the
    wrong checksum is moved aside to ``<file>.corrupt-<first 8 hex digits of its SHA-256>``, never
    read, and a fresh copy is downloaded (with a warning naming the bad file); offline, the error
    names the file, the expected and the actual SHA-256.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: folder holding (or to receive) the IDX files.

    Returns:
        :class:`Images` like :func:`digits`: ``x`` of shape ``(N, 1, 28, 28)`` (float32 in [-1, 1]),
        ``y`` of shape ``(N,)`` (int64 in 0..9).

    Raises:
        ValueError: unknown ``split``, or a file that is not IDX.
        OSError: a file is missing, or has the wrong SHA-256, and cannot be downloaded (offline);
            the message gives the checksums and says where to put the files.

    References:
        LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition",
        Proc. IEEE 86(11), 1998; http://yann.lecun.com/exdb/mnist/.
    """
    return _load_idx_dataset("mnist", split, root)


def fashion_mnist(split: str = "train", *, root: str | os.PathLike | None = None) -> Images:
    """Fashion-MNIST (Zalando's 28x28 clothing images, 10 classes), a drop-in for :func:`mnist`.

    Same files, shapes, cache, checksum rules and offline behaviour as :func:`mnist` (folder
    ``fashion_mnist``).
    Labels: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker,
    8 bag, 9 ankle boot.

    Raises:
        ValueError: unknown ``split``, or a file that is not IDX.
        OSError: a file is missing, or has the wrong SHA-256, and cannot be downloaded (offline);
            the message gives the checksums and says where to put the files.

    References:
        Xiao, Rasul, Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
        Learning Algorithms", arXiv:1708.07747, 2017.
    """
    return _load_idx_dataset("fashion_mnist", split, root)
