"""Input checks: what passes unchanged, and the messages of what fails."""
import pytest
import torch

from igmlib._validation import check_choice, check_module, check_positive, check_positive_int, check_tensor, shape_str


@pytest.mark.parametrize("shape, text", [((64, 2), "(64, 2)"), ((64,), "(64,)"), ((), "()"), ((2, 3, 4), "(2, 3, 4)")])
def test_shape_str(shape, text):
    assert shape_str(shape) == text
    assert shape_str(torch.Size(shape)) == text


def test_check_tensor_returns_input_unchanged():
    x = torch.randn(5, 2)
    assert check_tensor(x, "x", ndim=2, last_dim=2) is x
    assert check_tensor(x, "x", ndim=(1, 2)) is x
    ints = torch.arange(3)
    assert check_tensor(ints, "i", floating=False) is ints


@pytest.mark.parametrize(
    "value, kwargs, error, match",
    [
        ([1.0, 2.0], {}, TypeError, r"x must be a torch.Tensor, got list: convert it with torch.as_tensor"),
        (torch.arange(4), {}, TypeError, r"x must have a floating-point dtype, got torch.int64: use x.float\(\)"),
        (torch.zeros(64), {"ndim": 2, "last_dim": 2}, ValueError,
         r"x must be 2-D, got shape \(64,\) \(1-D\): use x.reshape\(-1, 2\)"),
        (torch.zeros(2, 2, 2), {"ndim": (1, 2)}, ValueError, r"x must be 1-D or 2-D, got shape \(2, 2, 2\)"),
        (torch.zeros(64, 3), {"ndim": 2, "last_dim": 2}, ValueError,
         r"x must have shape \(N, 2\), got \(64, 3\): use x.reshape\(-1, 2\)"),
        (torch.tensor(1.0), {"last_dim": 2}, ValueError, r"x must have shape \(N, 2\), got \(\)"),
        (torch.zeros(0, 2), {"ndim": 2}, ValueError, r"x is empty \(shape \(0, 2\)\)"),
    ],
)
def test_check_tensor_rejects(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_tensor(value, "x", **kwargs)


def test_check_choice():
    assert check_choice("b", "kind", ("c", "a", "b")) == "b"
    with pytest.raises(ValueError, match=r"unknown kind 'd'; choose one of: a, b, c$"):
        check_choice("d", "kind", ("c", "a", "b"))
    with pytest.raises(TypeError, match=r"kind must be a string, one of: a, b; got 3"):
        check_choice(3, "kind", ("a", "b"))


@pytest.mark.parametrize("value, allow_zero, expected", [(1, False, 1), (7, False, 7), (0, True, 0)])
def test_check_positive_int_accepts(value, allow_zero, expected):
    assert check_positive_int(value, "n", allow_zero=allow_zero) == expected


@pytest.mark.parametrize(
    "value, allow_zero, error, match",
    [
        (0, False, ValueError, r"n must be > 0, got 0"),
        (-1, True, ValueError, r"n must be >= 0, got -1"),
        (2.0, False, TypeError, r"n must be an int, got float \(2.0\)"),
        (True, False, TypeError, r"n must be an int, got bool"),
        ("3", False, TypeError, r"n must be an int, got str"),
    ],
)
def test_check_positive_int_rejects(value, allow_zero, error, match):
    with pytest.raises(error, match=match):
        check_positive_int(value, "n", allow_zero=allow_zero)


def test_check_positive_accepts_and_converts():
    assert check_positive(2, "lr") == 2.0 and isinstance(check_positive(2, "lr"), float)
    assert check_positive(0.0, "lr", allow_zero=True) == 0.0


@pytest.mark.parametrize(
    "value, error, match",
    [
        (0.0, ValueError, r"lr must be > 0, got 0.0"),
        (-1e-3, ValueError, r"lr must be > 0, got -0.001"),
        (float("nan"), ValueError, r"lr must be finite, got nan"),
        (float("inf"), ValueError, r"lr must be finite, got inf"),
        (False, TypeError, r"lr must be a number, got bool"),
        ("0.1", TypeError, r"lr must be a number, got str"),
        (torch.tensor(0.1), TypeError, r"lr must be a number, got Tensor"),
    ],
)
def test_check_positive_rejects(value, error, match):
    with pytest.raises(error, match=match):
        check_positive(value, "lr")


def test_check_module_returns_modules_and_names_the_argument_otherwise():
    net = torch.nn.Linear(2, 1)
    assert check_module(net, "critic") is net
    with pytest.raises(TypeError, match="critic must be a torch.nn.Module, got function"):
        check_module(lambda x: x, "critic")
