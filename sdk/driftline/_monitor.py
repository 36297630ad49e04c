"""``monitor()``: the decorator, its arguments checked once and its wrapper chosen once."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from ._binding import Spec
from ._exceptions import ConfigurationError
from ._metrics import sanitise_label_name
from ._shadow import Shadow
from ._wrappers import wrap

__all__ = ["monitor"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_ROLES = ("champion", "challenger")
_RESERVED_INFO = ("model", "version", "service")


class _Decorator(Protocol):
    """What ``monitor(...)`` returns: it keeps the decorated callable's type."""

    @overload
    def __call__(self, fn: classmethod[T, P, R]) -> classmethod[T, P, R]: ...
    @overload
    def __call__(self, fn: staticmethod[P, R]) -> staticmethod[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...


def _feature_position(fn: Callable[..., Any], has_receiver: bool) -> tuple[int, str | None]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 0, None
    skip = 1 if has_receiver or (params and params[0].name in ("self", "cls")) else 0
    if len(params) <= skip:
        return skip, None
    param = params[skip]
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        return skip, None
    return skip, param.name


def _check_name(key: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ConfigurationError(key, f"must be a string of 1 to 128 characters, got {value!r}")
    return value


def monitor(
    *,
    model: str,
    version: str,
    batch: bool = False,
    features: Callable[..., Any] | None = None,
    prediction: Callable[[Any], Any] | None = None,
    feature_names: Sequence[str] | None = None,
    info: Mapping[str, object] | None = None,
    role: str = "champion",
    shadow: Shadow | None = None,
) -> _Decorator:
    """Return a decorator that traces, measures, logs and captures every call of a model function.

    Works on sync and async functions, instance/class/static methods (either
    decorator order) and, with ``batch=True``, functions taking a batch of rows.
    ``features`` (called with the call's arguments) and ``prediction`` (called
    with its result) override the default extraction. ``info`` becomes labels
    of ``driftline_model_info``. ``shadow`` runs a challenger on a sample of
    calls in the background (docs/versions.md). Raises ConfigurationError for
    bad arguments.
    """
    _check_name("model", model)
    _check_name("version", version)
    if role not in _ROLES:
        raise ConfigurationError("role", f"must be one of {', '.join(_ROLES)}, got {role!r}")
    if features is not None and not callable(features):
        raise ConfigurationError("features", "must be callable")
    if prediction is not None and not callable(prediction):
        raise ConfigurationError("prediction", "must be callable")
    if shadow is not None:
        if not isinstance(shadow, Shadow):
            raise ConfigurationError("shadow", f"must be a driftline.Shadow, got {shadow!r}")
        if shadow.version == version:
            raise ConfigurationError("shadow", "the challenger's version must differ")
    names: tuple[str, ...] | None = None
    if feature_names is not None:
        names = tuple(feature_names)
        if isinstance(feature_names, str) or not all(isinstance(n, str) and n for n in names):
            raise ConfigurationError("feature_names", "must be a sequence of non-empty strings")
    labels: dict[str, str] = {}
    for key, value in (info or {}).items():
        label = sanitise_label_name(str(key))
        if label in _RESERVED_INFO or label in labels:
            raise ConfigurationError("info", f"key {key!r} clashes with label {label!r}")
        labels[label] = str(value)

    def decorate(fn: Any) -> Any:
        if isinstance(fn, classmethod | staticmethod):
            inner = fn.__func__
            index, param = _feature_position(inner, isinstance(fn, classmethod))
            wrapped = wrap(inner, _spec(index, param))
            return type(fn)(wrapped)
        if not callable(fn):
            raise ConfigurationError("monitor", f"can only decorate a callable, got {fn!r}")
        index, param = _feature_position(fn, False)
        return wrap(fn, _spec(index, param))

    def _spec(index: int, param: str | None) -> Spec:
        return Spec(
            model=model,
            version=version,
            role=role,
            batch=batch,
            features=features,
            prediction=prediction,
            feature_names=names,
            info=tuple(labels.items()),
            feature_index=index,
            feature_param=param,
            shadow=shadow,
        )

    return decorate
