"""Nothing in the shipped packages deserialises an executable format (pickle and friends)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "sdk" / "driftline", ROOT / "sidecar" / "driftline_sidecar")
_UNSAFE_MODULES = frozenset(
    {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
)
_UNSAFE_CALLS = frozenset(
    {
        "yaml.unsafe_load",
        "yaml.full_load",
        "yaml.load_all",
        "pandas.read_pickle",
        "pd.read_pickle",
        "torch.load",
        "eval",
        "exec",
    }
)
_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader"})


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_uses(source: str, filename: str = "<source>") -> list[str]:
    """Return a line per import or call that could deserialise executable content."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"{filename}:{node.lineno}: import {n}"
                for n in names
                if n.split(".")[0] in _UNSAFE_MODULES
            ]
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            where = f"{filename}:{node.lineno}: {name}("
            if name in _UNSAFE_CALLS:
                found.append(where)
            elif name == "yaml.load":
                loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or _dotted(loader).split(".")[-1] not in _SAFE_LOADERS:
                    found.append(where + " without SafeLoader")
            elif name in ("np.load", "numpy.load"):
                allow = _keyword(node, "allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(where + " without allow_pickle=False")
    return found


# The one exception, and why: with Shadow(isolation="process") (opt-in) the SDK
# pickles a challenger's arguments to a child process it started itself and
# unpickles the result from it, over a private pipe. No byte from the network, a
# file or any other process is ever unpickled (docs/sidecar.md, docs/versions.md).
_OWN_CHILD_PIPE = "sdk/driftline/_shadow_process.py"


def test_the_packages_never_deserialise_executable_formats() -> None:
    """No module imports pickle or marshal, loads YAML unsafely or numpy arrays with pickles,
    except the shadow process module's pipe to its own child."""
    files = sorted(path for package in PACKAGES for path in package.rglob("*.py"))
    assert len(files) > 20
    found = [
        use
        for path in files
        for use in unsafe_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    allowed = [u for u in found if u.startswith(f"{_OWN_CHILD_PIPE}:") and u.endswith(" pickle")]
    assert (len(allowed), [u for u in found if u not in allowed]) == (1, [])


def test_the_shadow_process_module_never_unpickles_bytes_it_did_not_get_from_its_child() -> None:
    """_shadow_process never calls pickle.loads or pickle.load: it unpickles only via its
    own child's multiprocessing connection."""
    source = (ROOT / _OWN_CHILD_PIPE).read_text(encoding="utf-8")
    calls = {
        _dotted(node.func) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
    }
    assert not calls & {"pickle.loads", "pickle.load", "pickle.Unpickler"}


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "from shelve import open",
        "import marshal",
        "yaml.load(text)",
        "yaml.load(text, Loader=yaml.Loader)",
        "yaml.unsafe_load(text)",
        "np.load(path)",
        "np.load(path, allow_pickle=True)",
        "pd.read_pickle(path)",
    ],
)
def test_the_checker_flags_unsafe_snippets(snippet: str) -> None:
    """The checker finds each kind of unsafe use, so the test above can fail."""
    assert len(unsafe_uses(snippet)) == 1


@pytest.mark.parametrize(
    "snippet",
    [
        "yaml.safe_load(text)",
        "yaml.load(text, Loader=yaml.SafeLoader)",
        "np.load(path, allow_pickle=False)",
        "json.loads(text)",
    ],
)
def test_the_checker_passes_safe_snippets(snippet: str) -> None:
    """Safe loaders are not flagged."""
    assert unsafe_uses(snippet) == []
