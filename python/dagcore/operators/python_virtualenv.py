"""PythonVirtualenvOperator and ExternalPythonOperator: run a function in another interpreter.

As Airflow's ``_BasePythonVirtualenvOperator`` (providers/standard ``operators/python.py``,
docs/airflow-behaviour.md 8.11): the function's source (not the function object) is written to a
script with its arguments pickled beside it; the script runs in a subprocess of the chosen
interpreter, and the pickled return value is read back. The function must therefore be
self-contained: a ``def`` (no lambda) that imports what it uses inside its body.

* ``PythonVirtualenvOperator`` makes a virtual environment (``python -m venv``, with the system
  site packages by default) and installs ``requirements`` into it with pip. There is no package
  index here, so pip runs with ``--no-index`` unless ``index_urls``/``pip_install_options`` say
  otherwise: a requirement the system site packages already satisfy passes, one that cannot be
  installed fails the task with pip's message naming it. Environments are cached by a hash of
  what defines them (Airflow's ``venv_cache_path``; here always cached, under
  ``venv_cache_path`` or a per-user temporary directory), so later runs start at once.
* ``ExternalPythonOperator`` uses an existing interpreter (``python=``: a path).

Only context values that survive pickling into a process without dagcore are given to the
function (Airflow's serializable context keys: ``ds``, ``ts``, ``run_id``, ``logical_date``,
``params``...); declaring another context key is refused before the subprocess starts.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
import warnings
from collections.abc import Callable, Collection, Container, Mapping
from pathlib import Path
from typing import Any

from dagcore.decorators import DecoratedPythonOperator
from dagcore.exceptions import DagcoreException, TaskSkipped
from dagcore.operators.python import PythonOperator, determine_kwargs

__all__ = [
    "DecoratedExternalPythonOperator",
    "DecoratedVirtualenvOperator",
    "ExternalPythonOperator",
    "PythonVirtualenvOperator",
    "VirtualenvError",
    "is_venv_installed",
]

log = logging.getLogger(__name__)

SERIALIZERS = ("pickle", "cloudpickle", "dill")
"""Airflow's ``_SERIALIZERS``: the libraries arguments and return values pass through."""

BASE_SERIALIZABLE_CONTEXT_KEYS = frozenset({
    "ds", "ds_nodash", "expanded_ti_count", "inlets", "map_index_template", "outlets", "run_id",
    "task_instance_key_str", "test_mode", "ts", "ts_nodash", "ts_nodash_with_tz"})
"""Context keys given to the function in every environment (Airflow's names)."""

PENDULUM_SERIALIZABLE_CONTEXT_KEYS = frozenset({
    "data_interval_end", "data_interval_start", "logical_date",
    "prev_data_interval_end_success", "prev_data_interval_start_success",
    "prev_start_date_success", "prev_end_date_success"})
"""Date-time context keys, given when the environment sees the system site packages."""

PLAIN_AIRFLOW_CONTEXT_KEYS = frozenset({"params", "conf"})
"""Of Airflow's ``AIRFLOW_SERIALIZABLE_CONTEXT_KEYS``, those that are plain data here; ``dag``,
``dag_run``, ``task`` and ``macros`` are dagcore objects the subprocess cannot load."""


def is_venv_installed() -> bool:
    """Whether virtual environments can be made (Airflow's ``is_venv_installed``, which looks
    for ``virtualenv``/``uv``; dagcore uses the standard library's ``venv``)."""
    return importlib.util.find_spec("venv") is not None and importlib.util.find_spec(
        "ensurepip") is not None


class VirtualenvError(DagcoreException, ValueError):
    """The environment cannot be made or used (a missing interpreter, an uninstallable
    requirement); the message names the culprit."""


_SCRIPT = '''\
import {serializer} as _serializer
import sys
{context_setup}
{source}

with open(sys.argv[1], "rb") as _file:
    _arg_dict = _serializer.load(_file)
with open(sys.argv[3], "r") as _file:
    virtualenv_string_args = [_line.strip() for _line in _file]
try:
    with _current_context():
        _res = {name}(*_arg_dict["args"], **_arg_dict["kwargs"])
except Exception as _exc:
    with open(sys.argv[4], "w") as _file:
        _file.write(str(_exc))
    raise
with open(sys.argv[2], "wb") as _file:
    if _res is not None:
        _serializer.dump(_res, _file)
'''
"""Airflow's ``python_virtualenv_script.jinja2``, in substance."""

_NO_CONTEXT = '''\
import contextlib as _contextlib
_current_context = _contextlib.nullcontext
'''
"""Without ``use_airflow_context``: the function runs with no current context."""

_WITH_CONTEXT = '''\
import functools as _functools
sys.path.append({package_root!r})
from dagcore.compat import airflow as _compat
from dagcore.context import set_current_context as _set_current_context
_compat.install()
with open(sys.argv[5], "rb") as _file:
    _current_context = _functools.partial(_set_current_context, _serializer.load(_file))
'''
"""``use_airflow_context=True`` (Airflow 2.10): dagcore (from the worker's installation, so the
interpreter must be the worker's Python version) and its Airflow import paths are importable in
the subprocess, and ``get_current_context()`` there returns the serializable part of the task's
context (docs/airflow-behaviour.md 8.11)."""


def function_source(func: Callable[..., Any]) -> str:
    """The source of ``func`` without its decorators (``@task.virtualenv`` must not run in the
    subprocess), dedented.

    Raises:
        ValueError: the source cannot be read (a function made at run time).
    """
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise ValueError(f"cannot read the source of {func.__name__!r} to run it in another "
                         f"interpreter: {exc}") from None
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return "\n".join(source.splitlines()[node.lineno - 1:]) + "\n"


class _BaseVirtualenvOperator(PythonOperator):
    """What both operators share: the script, the arguments, the subprocess."""

    template_fields = (*PythonOperator.template_fields, "string_args")

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 serializer: str | None = None, op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None,
                 string_args: Collection[str] | None = None,
                 templates_dict: dict[str, Any] | None = None,
                 templates_exts: list[str] | None = None, expect_airflow: bool = True,
                 skip_on_exit_code: int | Container[int] | None = None,
                 env_vars: dict[str, str] | None = None, inherit_env: bool = True,
                 use_dill: bool = False, use_airflow_context: bool = False,
                 **kwargs: Any) -> None:
        if use_dill:  # Airflow 2.8-2.10's deprecated spelling of serializer="dill"
            warnings.warn("`use_dill` is deprecated and will be removed in a future version. "
                          "Please provide serializer='dill' instead.", DeprecationWarning,
                          stacklevel=3)
            if serializer:
                raise ValueError("Both 'use_dill' and 'serializer' parameters are set. Please "
                                 "set only one of them")
            serializer = "dill"
        if (not isinstance(python_callable, types.FunctionType)
                or python_callable.__name__ == "<lambda>"):
            raise ValueError(f"{type(self).__name__} only supports functions for "
                             f"python_callable arg")
        if inspect.isgeneratorfunction(python_callable):
            raise ValueError(f"{type(self).__name__} does not support using 'yield' in "
                             f"python_callable")
        serializer = serializer or "pickle"
        if serializer not in SERIALIZERS:
            raise ValueError(f"Unsupported serializer {serializer!r}. Expected one of "
                             f"{', '.join(map(repr, SERIALIZERS))}")
        if serializer != "pickle" and importlib.util.find_spec(serializer) is None:
            raise ValueError(f"serializer {serializer!r} of task {task_id!r} needs the "
                             f"{serializer!r} package, which is not installed")
        super().__init__(task_id, python_callable=python_callable, op_args=op_args,
                         op_kwargs=op_kwargs, templates_dict=templates_dict,
                         templates_exts=templates_exts, **kwargs)
        self.serializer = serializer
        self.string_args = list(string_args or [])
        self.expect_airflow = expect_airflow
        self.use_airflow_context = use_airflow_context
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = skip_on_exit_code
        self.env_vars = env_vars
        self.inherit_env = inherit_env

    # -- what subclasses provide -----------------------------------------------------------------

    def _interpreter(self) -> str:
        """The path of the interpreter that runs the function."""
        raise NotImplementedError

    def _sees_system_site_packages(self) -> bool:
        return True

    # -- execution -------------------------------------------------------------------------------

    def _serializable_context_keys(self) -> frozenset[str]:
        keys = BASE_SERIALIZABLE_CONTEXT_KEYS | PLAIN_AIRFLOW_CONTEXT_KEYS
        if self._sees_system_site_packages():
            keys |= PENDULUM_SERIALIZABLE_CONTEXT_KEYS
        return keys

    def execute(self, context: dict[str, Any]) -> Any:
        allowed = self._serializable_context_keys()
        serializable = {k: v for k, v in context.items() if k in allowed}
        if "params" in serializable:
            serializable["params"] = dict(serializable["params"])
        declared = set(inspect.signature(self.python_callable).parameters)
        refused = sorted((declared & set(context)) - allowed - set(self.op_kwargs))
        if refused:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: the context keys "
                             f"{refused} cannot be passed to another interpreter; only "
                             f"{sorted(allowed)} can (docs/airflow-behaviour.md 8.11)")
        merged = {**serializable, **self.op_kwargs, "templates_dict": self.templates_dict}
        kwargs = determine_kwargs(self.python_callable, self.op_args, merged)
        result = self._run_in_subprocess(list(self.op_args), kwargs,
                                         serializable if self.use_airflow_context else None)
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %r", result)
        return result

    def _run_in_subprocess(self, args: list[Any], kwargs: dict[str, Any],
                           current_context: dict[str, Any] | None = None) -> Any:
        serializer = importlib.import_module(self.serializer)
        python = self._interpreter()
        with tempfile.TemporaryDirectory(prefix="dagcore-venv-run") as tmp:
            tmp_path = Path(tmp)
            script = tmp_path / "script.py"
            source = function_source(self.python_callable)
            setup = _NO_CONTEXT if current_context is None else _WITH_CONTEXT.format(
                package_root=str(Path(__file__).resolve().parents[2]))
            script.write_text(_SCRIPT.format(serializer=self.serializer, source=source,
                                             name=self.python_callable.__name__,
                                             context_setup=setup))
            input_path, output_path = tmp_path / "script.in", tmp_path / "script.out"
            string_args_path, error_path = tmp_path / "string_args.txt", tmp_path / "error.txt"
            context_path = tmp_path / "context.in"
            try:
                with input_path.open("wb") as file:
                    serializer.dump({"args": args, "kwargs": kwargs}, file)
                if current_context is not None:
                    with context_path.open("wb") as file:
                        serializer.dump(current_context, file)
            except Exception as exc:  # noqa: BLE001 - any pickling error names the task
                raise ValueError(f"the arguments of task {self.task_id!r} cannot be serialized "
                                 f"with {self.serializer}: {exc}") from None
            string_args_path.write_text("\n".join(map(str, self.string_args)))
            output_path.touch()
            env = dict(os.environ) if self.inherit_env else {}
            env.update(self.env_vars or {})
            code = self._run_script([python, str(script), str(input_path), str(output_path),
                                     str(string_args_path), str(error_path),
                                     str(context_path)], env, tmp)
            if code in self.skip_on_exit_code:
                raise TaskSkipped(f"Process exited with code {code}. Skipping.")
            if code != 0:
                error = error_path.read_text() if error_path.exists() else ""
                raise DagcoreException(f"Process returned non-zero exit status {code}.\n{error}"
                                       .rstrip())
            if output_path.stat().st_size == 0:
                return None
            with output_path.open("rb") as file:
                return serializer.load(file)

    def _run_script(self, command: list[str], env: dict[str, str], cwd: str) -> int:
        """Run the script, logging its output line by line; its exit code."""
        log.info("Executing cmd: %s", " ".join(command))
        with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env, cwd=cwd,
                              start_new_session=True) as process:
            self._process = process
            assert process.stdout is not None
            for raw in process.stdout:
                log.info("%s", raw.decode("utf-8", errors="backslashreplace").rstrip())
            return process.wait()

    def on_kill(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, 15)


class PythonVirtualenvOperator(_BaseVirtualenvOperator):
    """Run ``python_callable`` in a virtual environment (Airflow's ``PythonVirtualenvOperator``).

    Args:
        task_id: the task id.
        python_callable: a ``def`` function, self-contained (its source is what runs).
        requirements: pip requirement specifiers (a list, or one per line in a str; templated).
        python_version: the major.minor of the interpreter (``python<version>`` on PATH;
            default: this one's).
        serializer: ``"pickle"`` (default), ``"cloudpickle"`` or ``"dill"``.
        system_site_packages: the environment sees the system site packages (default True).
        pip_install_options: extra pip options (default ``--no-index``: no package index here).
        index_urls: package indexes to install from (then pip may reach the network).
        venv_cache_path: where environments are cached (default a per-user temp directory).
        op_args, op_kwargs, string_args, templates_dict, templates_exts, expect_airflow,
        skip_on_exit_code, env_vars, inherit_env, show_return_value_in_logs: as Airflow.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises:
        ValueError: a lambda or generator, an unknown serializer, ``op_args``/``op_kwargs``
            with a ``python_version`` of another major version.
        VirtualenvError: (from execute) no such interpreter, or a requirement pip cannot
            install; the message names it.
    """

    template_fields = (*_BaseVirtualenvOperator.template_fields, "requirements")
    template_ext = (".txt",)

    def __init__(self, task_id: str, *, python_callable: Callable[..., Any],
                 requirements: None | str | Collection[str] = None,
                 python_version: str | None = None, serializer: str | None = None,
                 system_site_packages: bool = True,
                 pip_install_options: list[str] | None = None,
                 index_urls: None | Collection[str] | str = None,
                 venv_cache_path: os.PathLike[str] | str | None = None,
                 op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if (python_version and str(python_version).split(".")[0] != str(sys.version_info.major)
                and (op_args or op_kwargs)):
            raise ValueError("Passing op_args or op_kwargs is not supported across different "
                             "Python major versions for PythonVirtualenvOperator. Please use "
                             "string_args." + f" (task {task_id!r}, python_version "
                             f"{python_version!r})")
        if (kwargs.get("use_airflow_context") and not kwargs.get("expect_airflow", True)
                and not system_site_packages):
            raise ValueError(f"task {task_id!r}: the `use_airflow_context` parameter is set to "
                             "True, but expect_airflow and system_site_packages are set to "
                             "False.")
        super().__init__(task_id, python_callable=python_callable, serializer=serializer,
                         op_args=op_args, op_kwargs=op_kwargs, **kwargs)
        if requirements is None:
            self.requirements: list[str] | str = []
        elif isinstance(requirements, str):
            self.requirements = requirements
        else:
            self.requirements = list(requirements)
        self.python_version = None if python_version is None else str(python_version)
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls or [])
        self.venv_cache_path = venv_cache_path

    def _sees_system_site_packages(self) -> bool:
        return self.system_site_packages

    def _requirement_list(self) -> list[str]:
        lines = (self.requirements.splitlines() if isinstance(self.requirements, str)
                 else self.requirements)
        reqs = sorted({str(r).strip() for r in lines if str(r).strip()
                       and not str(r).strip().startswith("#")})
        if self.serializer != "pickle" and self.serializer not in reqs and \
                not self.system_site_packages:
            reqs.append(self.serializer)
        return reqs

    def _base_python(self) -> str:
        if self.python_version is None:
            return sys.executable
        found = shutil.which(f"python{self.python_version}")
        if found is None:
            raise VirtualenvError(f"python_version {self.python_version!r} of task "
                                  f"{self.task_id!r} is not available: no "
                                  f"'python{self.python_version}' on PATH")
        return found

    def _venv_key(self, base_python: str, requirements: list[str]) -> str:
        """A hash of everything that defines the environment (Airflow's
        ``_calculate_cache_hash``)."""
        data = {"python": base_python, "python_version": self.python_version,
                "requirements": requirements, "system_site_packages": self.system_site_packages,
                "pip_install_options": self.pip_install_options, "index_urls": self.index_urls}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def _cache_root(self) -> Path:
        if self.venv_cache_path:
            return Path(self.venv_cache_path)
        return Path(tempfile.gettempdir()) / f"dagcore-venv-cache-{os.getuid()}"

    def _interpreter(self) -> str:
        base = self._base_python()
        requirements = self._requirement_list()
        venv = self._cache_root() / f"venv-{self._venv_key(base, requirements)}"
        python = venv / "bin" / "python"
        marker = venv / "install_complete_marker.json"
        venv.parent.mkdir(parents=True, exist_ok=True)
        import fcntl

        with open(venv.parent / f"{venv.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one creator per environment, others wait
            if marker.exists():
                log.info("Re-using cached virtual environment in %s", venv)
                return str(python)
            shutil.rmtree(venv, ignore_errors=True)
            self._create_venv(base, venv, requirements)
            marker.write_text(json.dumps({"requirements": requirements}))
        return str(python)

    def _create_venv(self, base: str, venv: Path, requirements: list[str]) -> None:
        log.info("Creating virtual environment in %s", venv)
        command = [base, "-m", "venv"]
        if self.system_site_packages:
            command.append("--system-site-packages")
        if not requirements:
            command.append("--without-pip")
        _checked_run(command + [str(venv)], f"creating the virtual environment of task "
                                            f"{self.task_id!r}")
        if not requirements:
            return
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install",
               "--disable-pip-version-check", "--no-input", "--timeout", "15"]
        if self.index_urls:
            pip += ["--index-url", self.index_urls[0]]
            for url in self.index_urls[1:]:
                pip += ["--extra-index-url", url]
        elif not self.pip_install_options:
            pip.append("--no-index")
        pip += self.pip_install_options
        for requirement in requirements:
            try:
                _checked_run(pip + [requirement], f"installing requirement {requirement!r}")
            except VirtualenvError:
                shutil.rmtree(venv, ignore_errors=True)
                raise


def _checked_run(command: list[str], what: str) -> None:
    """Run a setup command; a failure raises :class:`VirtualenvError` with its output."""
    log.info("Executing cmd: %s", " ".join(command))
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VirtualenvError(f"{what} failed: {exc}") from None
    for line in (done.stdout + done.stderr).splitlines():
        log.info("%s", line)
    if done.returncode != 0:
        raise VirtualenvError(f"{what} failed (exit code {done.returncode}): "
                              f"{(done.stderr or done.stdout).strip()}")


class ExternalPythonOperator(_BaseVirtualenvOperator):
    """Run ``python_callable`` with an existing interpreter (Airflow's
    ``ExternalPythonOperator``).

    Args:
        task_id: the task id.
        python: the interpreter's path (templated), e.g. a venv's ``bin/python``.
        python_callable, serializer, op_args, op_kwargs, string_args, templates_dict,
        templates_exts, expect_airflow, skip_on_exit_code, env_vars, inherit_env: as
        :class:`PythonVirtualenvOperator`.

    Raises:
        ValueError: an empty ``python``.
        VirtualenvError: (from execute) a path that does not exist ("Python Path '<path>' must
            exists", Airflow's text), is not a file or not absolute, or an interpreter of
            another major version given ``op_args``/``op_kwargs``.
    """

    template_fields = (*_BaseVirtualenvOperator.template_fields, "python")

    def __init__(self, task_id: str, *, python: str, python_callable: Callable[..., Any],
                 **kwargs: Any) -> None:
        if not python:
            raise ValueError(f"Python Path must be defined in {type(self).__name__} (task "
                             f"{task_id!r})")
        super().__init__(task_id, python_callable=python_callable, **kwargs)
        self.python = python

    def _interpreter(self) -> str:
        # Airflow's ExternalPythonOperator.execute_callable checks, with its texts.
        path = Path(self.python)
        if not path.exists():
            raise VirtualenvError(f"Python Path '{path}' must exists")
        if not path.is_file():
            raise VirtualenvError(f"Python Path '{path}' must be a file")
        if not path.is_absolute():
            raise VirtualenvError(f"Python Path '{path}' must be an absolute path.")
        major = _major_version(str(path))
        if major != sys.version_info.major and (self.op_args or self.op_kwargs):
            raise VirtualenvError(
                "Passing op_args or op_kwargs is not supported across different Python major "
                "versions for ExternalPythonOperator. Please use string_args." + f" ({path} is "
                f"Python {major})")
        return str(path)


def _major_version(python: str) -> int:
    """The major version of the interpreter at ``python``."""
    try:
        done = subprocess.run([python, "-c", "import sys; print(sys.version_info.major)"],
                              capture_output=True, text=True, timeout=60, check=True)
        return int(done.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise VirtualenvError(f"cannot read the Python version of {python!r}: {exc}") from None


class DecoratedVirtualenvOperator(DecoratedPythonOperator, PythonVirtualenvOperator):
    """The task a ``@task.virtualenv`` function creates."""

    template_fields = PythonVirtualenvOperator.template_fields
    custom_operator_name = "@task.virtualenv"


class DecoratedExternalPythonOperator(DecoratedPythonOperator, ExternalPythonOperator):
    """The task a ``@task.external_python`` function creates."""

    template_fields = ExternalPythonOperator.template_fields
    custom_operator_name = "@task.external_python"
