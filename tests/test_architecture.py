"""The package's architecture rules: every model is an igm.Trainable and follows the naming rule,
no import circles, short functions and modules."""
import ast
import inspect
from pathlib import Path

import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.nets import MLP, ConvDiscriminator, ConvGenerator, ConvTranslator

PACKAGE = Path(igm.__file__).parent
MAX_FUNCTION_LINES = 80  # code lines, docstring excluded
MAX_MODULE_LINES = 400


def _mlp(n_in, n_out):
    return MLP(n_in, n_out, hidden=(8,))


#: one small instance per trainable model class of igm.models (a new model must add one here)
FACTORIES = {
    "GAN": lambda: igm.models.GAN(_mlp(2, 2), _mlp(2, 1), 2),
    "WGAN": lambda: igm.models.WGAN(_mlp(2, 2), _mlp(2, 1), 2),
    "FGAN": lambda: igm.models.FGAN(_mlp(2, 2), _mlp(2, 1), 2),
    "FGAN(single_step)": lambda: igm.models.FGAN(_mlp(2, 2), _mlp(2, 1), 2, single_step=True),
    "MMDGAN": lambda: igm.models.MMDGAN(_mlp(2, 2), _mlp(2, 4), 2),
    "MomentMatching": lambda: igm.models.MomentMatching(_mlp(2, 2), 2),
    "GMMN": lambda: igm.models.GMMN(_mlp(2, 2), 2),
    "DensityNetwork": lambda: igm.models.DensityNetwork(_mlp(2, 2), 2, (2,)),
    "InfoGAN": lambda: igm.models.InfoGAN(ConvGenerator(4 + 10 + 2, 8, width=8),
                                          ConvDiscriminator(8, width=8, out_features=16), 4),
    "CycleGAN": lambda: igm.models.CycleGAN(ConvTranslator(1, width=4), ConvTranslator(1, width=4),
                                            ConvDiscriminator(8, width=8), ConvDiscriminator(8, width=8)),
    "ALI": lambda: igm.models.ALI(_mlp(2, 2), _mlp(2, 4), _mlp(4, 1), 2),
    "VAE": lambda: igm.models.VAE(_mlp(2, 4), _mlp(2, 2), 2, likelihood="gaussian"),
    "AVB": lambda: igm.models.AVB(_mlp(4, 2), _mlp(2, 2), _mlp(4, 1), 2, likelihood="gaussian"),
    "RatioEstimator": lambda: igm.models.RatioEstimator(_mlp(2, 1), igm.data.ring()),
    "UnrolledGAN": lambda: igm.models.UnrolledGAN(_mlp(2, 2), _mlp(2, 1), 2, unrolled_steps=1),
    "ConditionalGAN": lambda: igm.models.ConditionalGAN(_mlp(2 + 3, 2), _mlp(2, 4), 2, 3, 4),
    "ConditionalGAN(projection)": lambda: igm.models.ConditionalGAN(_mlp(2 + 3, 2), _mlp(2, 4), 2, 3, 4,
                                                                    projection=True),
    "WAE": lambda: igm.models.WAE(_mlp(2, 2), _mlp(2, 2), 2),
    "WAE(gan)": lambda: igm.models.WAE(_mlp(2, 2), _mlp(2, 2), 2, penalty="gan", discriminator=_mlp(2, 1)),
}


def _trainable_classes():
    return {name for name in igm.models.__all__
            if inspect.isclass(cls := getattr(igm.models, name)) and issubclass(cls, nn.Module)
            and callable(getattr(cls, "players", None))}


def test_every_trainable_model_class_has_a_factory_here():
    covered = {key.split("(")[0] for key in FACTORIES}
    assert _trainable_classes() == covered


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_model_is_trainable_and_follows_the_naming_rule(name):
    model = FACTORIES[name]()
    assert isinstance(model, igm.Trainable)
    for player in model.players():
        assert isinstance(player, igm.Player)
        # a player's loss is the model's method <player name>_loss
        assert getattr(player.loss, "__self__", None) is model, f"{name}: {player.name}'s loss is not a method"
        assert player.loss.__name__ == f"{player.name}_loss"
        assert player.updates >= 1


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_decoder_is_called_a_decoder(name):
    model = FACTORIES[name]()
    likelihood_model = callable(getattr(model, "log_likelihood", None))
    assert not (likelihood_model and hasattr(model, "generator")), f"{name} models p(x | z): call its network decoder"


def test_not_a_trainable_gets_a_clear_error():
    with pytest.raises(TypeError, match=r"igmlib.Trainable .*Linear lacks players"):
        igm.fit(nn.Linear(2, 2), torch.randn(8, 2), steps=1, batch_size=4)

    class NoPlayers(nn.Module):
        def players(self):
            return []

    with pytest.raises(TypeError, match=r"players\(\) must return a non-empty list of igmlib.Player"):
        igm.fit(NoPlayers(), torch.randn(8, 2), steps=1, batch_size=4)


def test_player_names_must_be_identifiers_and_updates_positive():
    with pytest.raises(ValueError, match="must be a Python identifier"):
        igm.Player("generator encoder", [], lambda b: b, igm.models.adam(1e-3))
    with pytest.raises(ValueError, match="updates of player 'critic' must be > 0"):
        igm.Player("critic", [], lambda b: b, igm.models.adam(1e-3), updates=0)


# ------------------------------------------------------------------------------ the package's shape
def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """igmlib modules ``path`` imports (at any level, lazily or not), resolved to module names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("igmlib"):
                continue
            for alias in node.names:  # `from . import losses` imports the module igmlib.losses
                sub = f"{mod}.{alias.name}"
                out.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("igmlib"))
    return out - {name}


def import_graph() -> dict[str, set[str]]:
    graph = {_module_name(p): _imports(p) for p in _modules()}
    # importing igmlib.a.b runs igmlib/__init__ and igmlib/a/__init__ first; those edges are not circles
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def test_no_import_circles():
    graph = import_graph()
    parents = {m for m in graph if any(o.startswith(m + ".") for o in graph)}  # packages: __init__ re-exports

    def edges(m):
        return {d for d in graph.get(m, ()) if d in graph and d not in parents}

    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in edges(m):
            if state.get(d) == "open":
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in graph:
        if m not in state and m not in parents:
            visit(m)


def test_the_library_does_not_import_the_book_helpers():
    graph = import_graph()
    for module, deps in graph.items():
        if not module.startswith("igmlib.book") and module != "igmlib":
            assert not {d for d in deps if d.startswith("igmlib.book")}, f"{module} imports the book's helpers"


def test_metrics_do_not_import_the_trainer():
    for module, deps in import_graph().items():
        if module.startswith("igmlib.metrics"):
            assert not deps & {"igmlib.train", "igmlib._loop"}, f"{module} imports the training loop"


def _function_lengths(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines -= body[0].end_lineno - body[0].lineno + 1
            yield node.name, node.lineno, lines


def test_no_function_over_80_code_lines():
    long = [f"{p.relative_to(PACKAGE)}:{line} {name} ({n} lines)"
            for p in _modules() for name, line, n in _function_lengths(p) if n > MAX_FUNCTION_LINES]
    assert not long, long


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(PACKAGE)} ({n})" for p in _modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not long, long


def test_fit_trains_under_no_grad():
    model = FACTORIES["GAN"]()
    before = [p.clone() for p in model.parameters()]
    with torch.no_grad():
        igm.fit(model, igm.data.ring(), steps=2, batch_size=16, seed=0)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
