"""Image data: scikit-learn's bundled 8x8 digits (offline) and an MNIST-style IDX loader.

Images are float tensors ``(N, 1, H, W)`` with pixels in [-1, 1]; labels are int64 ``(N,)``.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .._validation import check_choice, check_positive

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


# MNIST files with their MD5 checksums (as published by torchvision's MNIST dataset).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "md5:d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "md5:9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "md5:ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}


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


def mnist(split: str = "train", *, root: str | os.PathLike | None = None) -> Images:
    """MNIST (28x28) downloaded once with ``pooch`` and checked against its checksums.

    Needs internet on first use (Colab, a workstation); files are cached in ``root`` (default:
    pooch's cache folder for ``igmlib``).

    Returns:
        :class:`Images`: ``x`` of shape ``(60000 or 10000, 1, 28, 28)`` in [-1, 1], ``y`` ``(N,)``.

    Raises:
        ValueError: unknown ``split`` (``"train"`` or ``"test"``).
    """
    import pooch

    check_choice(split, "split", tuple(MNIST_FILES))
    root = Path(root) if root is not None else Path(pooch.os_cache("igmlib")) / "mnist"
    paths = [
        pooch.retrieve(MNIST_URL + name, known_hash=digest, fname=name, path=root, progressbar=False)
        for name, digest in MNIST_FILES[split]
    ]
    return load_idx_pair(*paths)
