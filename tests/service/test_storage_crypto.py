"""Uploads encrypted at rest: the sealed format, key rotation, and the service reading through it."""

from __future__ import annotations

import io
import os
import tracemalloc

import av
import pytest
from pydantic import SecretStr

from service.store.crypto import (
    CHUNK,
    DecryptError,
    DecryptingReader,
    EncryptingWriter,
    KeyMissing,
    Keyring,
    new_key_entry,
    read_header,
)
from service.store.uploads import UploadStore
from tests.conftest import POSE2SIM
from tests.service._servers import cli, service_env
from tests.service.conftest import decrypted, run_worker_once, stored_files

KEY_A = new_key_entry("a")
KEY_B = new_key_entry("b")
KEY_LONG = new_key_entry("rotated-2026")


def seal(path, data: bytes, keyring: Keyring, chunk: int = CHUNK) -> None:
    w = EncryptingWriter(open(path, "wb"), keyring, chunk)
    for i in range(0, len(data), 1000):  # written in pieces that do not line up with the chunks
        w.write(data[i : i + 1000])
    w.close()


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 250, 1000])
def test_any_size_round_trips_and_every_range_reads_back(tmp_path, size):
    data = os.urandom(size)
    ring = Keyring.parse(KEY_A)
    seal(tmp_path / "f", data, ring, chunk=100)
    raw = (tmp_path / "f").read_bytes()
    assert raw.startswith(b"MSENC1") and (size < 16 or data not in raw)
    with DecryptingReader(tmp_path / "f", ring) as r:
        assert r.size == size and r.read() == data
        for start in range(0, size, 37):  # random access, across chunk boundaries
            r.seek(start)
            assert r.read(73) == data[start : start + 73]
        if size >= 5:
            r.seek(-5, io.SEEK_END)
            assert r.read() == data[-5:]


def test_damage_truncation_and_a_missing_key_are_refused(tmp_path):
    data = os.urandom(350)
    ring = Keyring.parse(KEY_A)
    seal(tmp_path / "f", data, ring, chunk=100)
    raw = bytearray((tmp_path / "f").read_bytes())
    header = read_header(io.BytesIO(bytes(raw)))
    assert header is not None and header.kid == "a"

    flipped = bytearray(raw)
    flipped[header.size + 150] ^= 1  # one bit in chunk 1
    (tmp_path / "g").write_bytes(flipped)
    with DecryptingReader(tmp_path / "g", ring) as r:
        assert r.read(100) == data[:100]  # chunk 0 is intact
        with pytest.raises(DecryptError, match="chunk 1"):
            r.read(100)

    cut = raw[: header.size + 2 * (100 + 16)]  # cut at a chunk boundary: chunk 1 is not marked last
    (tmp_path / "h").write_bytes(cut)
    with DecryptingReader(tmp_path / "h", ring) as r, pytest.raises(DecryptError):
        r.seek(150)
        r.read(10)

    with pytest.raises(KeyMissing, match="'a'.*MOTIONSCRIPT_STORAGE_KEYS"):
        DecryptingReader(tmp_path / "f", Keyring.parse(KEY_B))
    with pytest.raises(DecryptError, match="does not unwrap"):  # a different key under the same id
        DecryptingReader(tmp_path / "f", Keyring.parse(new_key_entry("a")))


def test_keyring_spec_errors_say_what_is_wrong():
    assert Keyring.parse(f"{KEY_B},{KEY_A}").current == "b"
    assert set(Keyring.parse(f"# comment\n{KEY_B}\n{KEY_A}\n").keys) == {"a", "b"}
    for spec, match in [
        ("", "no key"),
        ("nokey", "expected 'id:base64key'"),
        ("a:c2hvcnQ=", "32 bytes"),
        (f"{KEY_A},{KEY_A}", "appears twice"),
        ("bad id:" + KEY_A.split(":")[1], "letters, digits"),
    ]:
        with pytest.raises(ValueError, match=match):
            Keyring.parse(spec)


def test_memory_stays_flat_while_sealing_and_reading_a_large_file(tmp_path):
    ring = Keyring.parse(KEY_A)
    block = os.urandom(1 << 20)
    tracemalloc.start()
    try:
        w = EncryptingWriter(open(tmp_path / "big", "wb"), ring)
        for _ in range(48):  # 48 MiB streamed through
            w.write(block)
        w.close()
        _, peak_write = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with DecryptingReader(tmp_path / "big", ring) as r:
            n = 0
            while chunk := r.read(1 << 20):
                n += len(chunk)
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 48 << 20
    # a block and a chunk or two at a time, never the file (48 MiB)
    assert peak_write < 4 << 20 and peak_read < 4 << 20, (peak_write, peak_read)


def test_an_uploaded_video_is_not_a_video_at_rest_and_analyses_through_the_key(client, auth, settings):
    original = POSE2SIM.read_bytes()
    with open(POSE2SIM, "rb") as f:
        r = client.post("/v1/assessments", headers=auth, files={"video": ("clip.mp4", f, "video/mp4")})
    assert r.status_code == 202, r.text
    (stored,) = stored_files(settings)
    raw = stored.read_bytes()
    assert b"ftyp" not in raw and b"moov" not in raw and original[:4096] not in raw
    with pytest.raises(av.error.InvalidDataError):  # FFmpeg finds no container in it
        av.open(str(stored)).close()
    assert decrypted(settings, stored) == original
    key_file = settings.data_dir / "storage.keys"  # the embedded default generated its key on start
    assert key_file.stat().st_mode & 0o777 == 0o600

    run_worker_once(settings)
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "done" and done["input"]["frames_read"] == 100
    assert not any(settings.scratch_path.iterdir())  # the plaintext copy was removed after the job

    aid = r.json()["id"]
    for rng, status, want in [
        (f"bytes={CHUNK - 10}-{CHUNK + 9}", 206, original[CHUNK - 10 : CHUNK + 10]),  # across a chunk boundary
        ("bytes=-100", 206, original[-100:]),
        (f"bytes={len(original) - 5}-", 206, original[-5:]),
        ("bytes=0-1,5-9", 200, original),  # several ranges: the whole file
        (f"bytes={len(original)}-", 416, b""),
    ]:
        part = client.get(f"/v1/assessments/{aid}/input", headers={**auth, "Range": rng})
        assert part.status_code == status and part.content == want, rng
    assert part.headers["content-range"] == f"bytes */{len(original)}"


def test_a_worker_without_the_key_fails_the_job_and_says_which_key(client, auth, settings):
    with open(POSE2SIM, "rb") as f:
        r = client.post("/v1/assessments", headers=auth, files={"video": ("clip.mp4", f, "video/mp4")})
    kid = Keyring.parse((settings.data_dir / "storage.keys").read_text()).current
    run_worker_once(settings.model_copy(update={"storage_keys": SecretStr(KEY_B)}))
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "failed" and f"storage key {kid!r}" in done["reason"]


def test_rotation_rewraps_every_file_and_encrypts_old_plaintext(tmp_path):
    data = tmp_path / "var"
    uploads = data / "uploads"
    old = UploadStore(uploads, Keyring.parse(KEY_A))
    contents = {}
    for i in range(3):
        f = old.save_bytes("clinic", os.urandom(200_000 + i))
        contents[f.relpath] = old.open(f.relpath).read()
    legacy = uploads / "clinic" / "00" / "legacy"  # stored by 0.1, before encryption
    legacy.parent.mkdir(parents=True, exist_ok=True)  # a random upload may already sit under 00/
    legacy.write_bytes(POSE2SIM.read_bytes())
    contents["clinic/00/legacy"] = POSE2SIM.read_bytes()
    (uploads / "clinic" / "tmp" / "upload-inprogress").write_bytes(b"partial")  # left alone

    env = service_env(data_dir=data, storage_keys=f"{KEY_B},{KEY_A}")  # the same id length: headers rewritten in place
    cli("storage", "rotate-keys", env=env, cwd=tmp_path)
    env["MOTIONSCRIPT_STORAGE_KEYS"] = f"{KEY_LONG},{KEY_B}"  # a longer id: a new header on the same sealed body
    cli("storage", "rotate-keys", env=env, cwd=tmp_path)

    new = UploadStore(uploads, Keyring.parse(KEY_LONG))  # the older keys are gone
    assert sorted(new.files()) == sorted(contents)
    for rel, plain in contents.items():
        with open(new.location(rel), "rb") as f:
            assert read_header(f).kid == "rotated-2026"  # type: ignore[union-attr]
        with new.open(rel) as r:
            assert r.read() == plain
    assert (uploads / "clinic" / "tmp" / "upload-inprogress").read_bytes() == b"partial"
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(legacy)).close()

    env["MOTIONSCRIPT_STORAGE_KEYS"] = KEY_A  # a keyring without the files' key: refused, and nothing lost
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "storage", "rotate-keys"], env=env, cwd=tmp_path, capture_output=True
    )
    assert proc.returncode == 2 and b"4 files could not be re-wrapped" in proc.stderr
    with new.open("clinic/00/legacy") as r:
        assert r.read() == POSE2SIM.read_bytes()


def test_keygen_prints_a_usable_entry(tmp_path):
    line = cli("storage", "keygen", "--id", "k2026", env=service_env(), cwd=tmp_path).strip()
    ring = Keyring.parse(line)
    assert ring.current == "k2026" and len(ring.keys["k2026"]) == 32


def test_the_settings_keyring_wins_over_the_key_file(tmp_path):
    from service.settings import Settings

    store = UploadStore.from_settings(Settings(data_dir=tmp_path, storage_keys=f"{KEY_B},{KEY_A}"))
    f = store.save_bytes("c", b"x" * 10)
    with open(store.location(f.relpath), "rb") as fh:
        assert read_header(fh).kid == "b"  # type: ignore[union-attr]
    assert not (tmp_path / "storage.keys").exists()
    again = UploadStore.from_settings(Settings(data_dir=tmp_path / "other"))  # the key file: made once, then read
    assert UploadStore.from_settings(Settings(data_dir=tmp_path / "other")).keyring == again.keyring
