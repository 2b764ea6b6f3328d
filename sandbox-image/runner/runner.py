# The trusted runner that executes one piece of untrusted Python inside the sandbox. The service
# (function/sandbox/runner-process.ts) starts it under an unprivileged uid, in the execution
# directory, as
#     /usr/bin/python3 -I -B /opt/codejail/runner/runner.py CONFIG_JSON
# with the request on stdin and the result channel on fd 3. It confines itself, reports that on
# fd 3, then runs the code with codejail's safe_exec semantics and writes the JSON-safe globals
# to fd 3. The prewarmed executor's forked children (template.py, forked.py) run the same steps
# through run_confined, so both paths confine and execute alike. The result-channel lines must
# stay in sync with function/result/outcome.ts, and the install path with provision.sh, which
# copies this folder to /opt/codejail/runner.
#
# Exit status: 0 after a result line (or after the code's own SystemExit with status 0), 1 when
# the code raised, the code's own status for SystemExit, 70 when confinement failed.

import json
import os
import sys
from types import ModuleType, TracebackType
from typing import Any

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
# Every module of this folder, hidden from the user's code once imported.
RUNNER_MODULES = (
    "confine",
    "forked",
    "identity_filter",
    "jsonsafe",
    "landlock",
    "privileges",
    "runner",
    "seccomp",
    "template_start",
)
RESULT_FD = 3
EXIT_SANDBOX_ERROR = 70  # EX_SOFTWARE in sysexits.h.

# The name tracebacks show for the user's code. The service writes the code to a file of this
# name in the working directory, so tracebacks can show its source lines.
CODE_FILENAME = "jailed_code"


class DevNull:
    """Replacement for sys.stdout that discards writes, as codejail's is. fd 1 stays open."""

    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self, *args: Any, **kwargs: Any) -> None:
        pass


def main() -> int:
    # Descriptors the service's process happened to pass on (beyond stdin, stdout, stderr and the
    # result channel) must not reach the code.
    os.closerange(RESULT_FD + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        confine, jsonsafe = import_runner_modules()
    except Exception as error:
        return report_sandbox_error(f"loading the runner modules failed: {error!r}")
    try:
        config = confine.parse_config(sys.argv[1] if len(sys.argv) > 1 else "")
    except confine.ConfinementError as error:
        return report_sandbox_error(str(error))
    return run_confined(confine, jsonsafe, config)


def run_confined(confine: ModuleType, jsonsafe: ModuleType, config: Any) -> int:
    """Confine the process, report it, then run the request from stdin and return the status.

    `config` is a confine.Config. SystemExit raised by the code propagates to the caller, which
    turns it into the exit status as the interpreter does for a script.
    """
    # Step 1: confine the process before any user input is read.
    try:
        landlock_abi = confine.confine_process(config, RUNNER_DIR)
    except confine.ConfinementError as error:
        return report_sandbox_error(str(error))

    # Step 2: report readiness. The service trusts this line alone, because no user code has run.
    write_result_line({"ready": True, "landlock_abi": landlock_abi})

    # Step 3: read the request. Integers in globals may have any number of digits.
    sys.set_int_max_str_digits(0)
    code, globals_dict, python_path = read_request()

    # Step 4: run the code as a module body, as codejail's safe_exec does.
    sys.stdout = DevNull()
    sys.path.extend(python_path)
    sys.argv = [CODE_FILENAME]
    try:
        exec(compile(code, CODE_FILENAME, "exec"), globals_dict)
    except SystemExit:
        raise  # The caller turns it into the exit status, as the interpreter does for a script.
    except BaseException as error:
        print_user_traceback(error)
        return 1

    # Step 5: return what JSON can carry. The service merges it into the input globals.
    write_result_line({"globals": jsonsafe.to_json_safe(globals_dict)})
    return 0


def import_runner_modules() -> tuple[ModuleType, ModuleType]:
    """Import the helper modules, then hide them from the user's code.

    -I keeps the script's directory off sys.path, so it is added only for these imports. The
    modules leave sys.modules so that a course library module of the same name still imports.
    """
    sys.path.insert(0, RUNNER_DIR)
    try:
        import confine
        import jsonsafe
    finally:
        sys.path[:] = [entry for entry in sys.path if entry != RUNNER_DIR]
        for name in RUNNER_MODULES:
            sys.modules.pop(name, None)
    return confine, jsonsafe


def report_sandbox_error(message: str) -> int:
    try:
        write_result_line({"sandbox_error": message})
    except OSError:
        pass  # Exit status 70 alone reports the failure to the service then.
    return EXIT_SANDBOX_ERROR


def write_result_line(document: dict[str, Any]) -> None:
    data = (json.dumps(document) + "\n").encode("ascii")
    while data:
        written = os.write(RESULT_FD, data)
        data = data[written:]


def read_request() -> tuple[str, dict[str, Any], list[str]]:
    """Read and validate the request document on stdin. Raise ValueError if its shape is wrong."""
    document = json.loads(sys.stdin.buffer.read())
    if not isinstance(document, dict):
        raise ValueError("invalid request: not a JSON object")
    code = document.get("code")
    globals_dict = document.get("globals_dict")
    python_path = document.get("python_path") or []
    if not isinstance(code, str):
        raise ValueError("invalid request: code must be a string")
    if not isinstance(globals_dict, dict):
        raise ValueError("invalid request: globals_dict must be an object")
    if not isinstance(python_path, list) or not all(isinstance(p, str) for p in python_path):
        raise ValueError("invalid request: python_path must be a list of strings")
    return code, globals_dict, python_path


def print_user_traceback(error: BaseException) -> None:
    """Print the traceback as the interpreter would, starting at the user's code.

    The runner's frames come first and are dropped. A SyntaxError from compile() has no frame of
    the user's code, so only the error itself is printed, as Python does for a script.
    """
    trace: TracebackType | None = error.__traceback__
    while trace is not None and trace.tb_frame.f_code.co_filename != CODE_FILENAME:
        trace = trace.tb_next
    error.__traceback__ = trace

    try:
        sys.excepthook(type(error), error, trace)
    except BaseException:
        # A failing hook installed by the code must not hide the code's own error.
        sys.__excepthook__(type(error), error, trace)


if __name__ == "__main__":
    sys.exit(main())
