"""Stream a multipart/form-data upload straight to disk.

Starlette's form parser spools files to a temporary file and then the route
copies them again; this parser writes the file part directly into the upload
store while the request arrives, enforces the size limit as it goes, and keeps
the small text fields in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartState, parse_options_header
from starlette.requests import Request

from service.errors import Problem
from service.input_limits import control_characters
from service.store.uploads import StoredFile, UploadStore, UploadWriter

__all__ = ["MultipartUpload", "read_multipart"]

MAX_FIELD_BYTES = 4096


@dataclass
class MultipartUpload:
    fields: dict[str, str] = field(default_factory=dict)
    file: StoredFile | None = None
    file_field: str | None = None
    filename: str | None = None
    extra_files: dict[str, StoredFile] = field(default_factory=dict)  # e.g. "imu", "emg"


async def read_multipart(
    request: Request,
    store: UploadStore,
    clinic_id: str,
    limit: int,
    file_fields: tuple[str, ...],
    extra_file_fields: tuple[str, ...] = (),
) -> MultipartUpload:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise Problem(415, "unsupported-media", "expected multipart/form-data with a boundary")
    out = MultipartUpload()
    state: dict = {"headers": {}, "name": None, "writer": None, "buf": bytearray(), "hf": b"", "hv": b""}
    writers: list[UploadWriter] = []
    extra_writers: dict[str, UploadWriter] = {}

    def on_part_begin() -> None:
        state.update(headers={}, name=None, writer=None, buf=bytearray(), hf=b"", hv=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hf"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hv"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hf"].decode("latin-1").lower()] = state["hv"].decode("latin-1")
        state["hf"], state["hv"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get("content-disposition", ""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if b"filename" in disp and name in extra_file_fields:
            if name in extra_writers:
                raise Problem(422, "validation", f"send at most one {name!r} file per request")
            state["writer"] = extra_writers[name] = store.writer(clinic_id, limit)
        elif b"filename" in disp:
            if name not in file_fields:
                raise Problem(
                    422,
                    "validation",
                    f"unexpected file field {name!r}; send the file as {' or '.join(file_fields)!r}"
                    + (
                        f" (sensor files as {' and/or '.join(map(repr, extra_file_fields))})"
                        if extra_file_fields
                        else ""
                    ),
                )
            if out.file_field is not None:
                raise Problem(422, "validation", "send exactly one file per request")
            out.file_field = name
            filename = disp[b"filename"].decode("utf-8", "replace")[:200]
            out.filename = re.sub(r"[\x00-\x1f\x7f]", "", filename)  # shown in messages: no control characters
            state["writer"] = store.writer(clinic_id, limit)
            writers.append(state["writer"])

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["writer"] is not None:
            state["writer"].write(data[start:end])
        else:
            state["buf"] += data[start:end]
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise Problem(422, "validation", f"form field {state['name']!r} is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        if state["writer"] is None and state["name"]:
            value = state["buf"].decode("utf-8", "replace")
            if control_characters(value, allow_whitespace=True) or control_characters(state["name"]):
                raise Problem(
                    422,
                    "validation",
                    f"form field {state['name'][:50]!r}: control characters (such as NUL) are not accepted",
                )
            out.fields[state["name"]] = value

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:  # finalize() does not check; the last part may be cut short
            raise Problem(422, "malformed-multipart", "the multipart/form-data body ends before its closing boundary")
        if writers:
            out.file = writers[0].commit()  # only a complete request is stored
        for name, w in extra_writers.items():
            out.extra_files[name] = w.commit()
    except ParseError as exc:  # a malformed body is the client's error, not a 500
        for w in [*writers, *extra_writers.values()]:
            w.abort()
        raise Problem(422, "malformed-multipart", f"the multipart/form-data body is malformed: {exc}") from None
    except BaseException:
        for w in [*writers, *extra_writers.values()]:
            w.abort()
        raise
    return out
