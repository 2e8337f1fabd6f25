"""What a type checker reads from the SDK (it ships ``py.typed``): each client's calls answer what they return.

``AsyncClient`` shares ``Client``'s endpoint methods (``sdk._Endpoints``), whose bodies return
``self._call(...)``: a coroutine on the async client. Inherited as they were, a type checker read
``await ms.create_patient(...)`` as awaiting a ``Patient`` (an error in the caller's code) and let
a forgotten ``await`` pass; ``sdk._awaited`` gives them their async type.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from motionscript_client import sdk

REPO = Path(__file__).resolve().parents[2]


def _endpoints() -> list[str]:
    return sorted(n for n, f in vars(sdk._Endpoints).items() if inspect.isfunction(f) and not n.startswith("_"))


def test_the_async_client_has_every_shared_endpoint_as_the_same_function():
    names = _endpoints()
    assert len(names) >= 20, names
    for name in names:
        assert vars(sdk.AsyncClient).get(name) is vars(sdk._Endpoints)[name], name
        assert name in vars(sdk.Client) or getattr(sdk.Client, name) is vars(sdk._Endpoints)[name], name


def test_mypy_reads_async_endpoints_as_coroutines_and_sync_ones_as_answers(tmp_path):
    from mypy import api

    user = tmp_path / "user.py"
    user.write_text(
        textwrap.dedent(
            """
            from motionscript_client import AsyncClient, Client

            async def run_async() -> None:
                async with AsyncClient("http://127.0.0.1:1") as ms:
                    p = await ms.create_patient("p1")
                    reveal_type(p)
                    reveal_type(await ms.get_overlay("a"))
                    ms.delete_patient(p.id)

            def run_sync() -> None:
                with Client("http://127.0.0.1:1") as ms:
                    reveal_type(ms.create_patient("p1"))
                    reveal_type(ms.get_overlay("a"))
            """
        )
    )
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {REPO / 'clients'}\n")
    out, err, _ = api.run([str(user), "--config-file", str(config), "--cache-dir", str(tmp_path / "cache")])
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(str(user))]
    assert lines == [
        'note: Revealed type is "motionscript_client.models.Patient"',
        'note: Revealed type is "bytes"',
        'error: Value of type "Coroutine[Any, Any, None]" must be used  [unused-coroutine]',
        "note: Are you missing an await?",
        'note: Revealed type is "motionscript_client.models.Patient"',
        'note: Revealed type is "bytes"',
    ], out + err
