"""Read and write Illumina IDAT files (version 3, the unencrypted binary format of every methylation array).

Layout of a version-3 IDAT (little endian), as documented by illuminaio (Smith et al. 2013) and methylprep:

* ``b"IDAT"``, ``int64`` version (3), ``int32`` number of fields;
* a table of ``(uint16 code, int64 byte offset)`` pairs, one per field;
* the fields' data, at their offsets. Array fields: 1000 ``nSNPsRead`` (int32 count ``n``), 102 ``IlluminaID``
  (n × int32), 103 ``SD`` (n × uint16), 104 ``Mean`` (n × uint16), 107 ``NBeads`` (n × uint8), 200 ``MidBlock``
  (int32 count + count × int32). Scalar/string fields: 300 ``RunInfo``, 400 ``RedGreen`` (int32), 401
  ``MostlyNull``, 402 ``Barcode``, 403 ``ChipType``, 404 ``MostlyA`` (the Sentrix position, e.g. R01C01), 405–409
  and 510 (strings), 410 (4 opaque bytes). Strings are .NET ``BinaryWriter`` strings: a 7-bit varint length then
  the bytes.

The reader maps the arrays as numpy views over one buffer (no per-probe Python loop). Every field that is not an
array is kept as its raw bytes together with the header and data order, so :func:`write_idat` reproduces a file
read by :func:`read_idat` byte for byte. From an uncompressed file the ``SD`` and ``MidBlock`` arrays, which no
preprocessing step reads (half of a 450k file's bytes), are read from the file when first accessed — after
checking that the file is still the one that was read (size, modification time, inode), else
:class:`IdatError`.

Version 1 (encrypted XML) IDATs of the old 27k scanner software are refused with a clear message.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import IdatError

MAGIC = b"IDAT"

# field codes
NSNPS, ILLUMINA_ID, SD, MEAN, NBEADS, MID_BLOCK = 1000, 102, 103, 104, 107, 200
RUN_INFO, RED_GREEN, MOSTLY_NULL, BARCODE, CHIP_TYPE, MOSTLY_A = 300, 400, 401, 402, 403, 404
UNKNOWN_STRINGS = (405, 406, 407, 408, 409, 510)
UNKNOWN_6 = 410

#: header order of the fields in files written by Illumina's scanner software (and by :func:`write_idat`)
DEFAULT_HEADER_ORDER = (1000, 102, 103, 104, 107, 200, 300, 400, 401, 402, 403, 404, 405, 410, 406, 407, 408,
                        409, 510)
#: data order of the same fields in those files (RunInfo comes last)
DEFAULT_DATA_ORDER = (1000, 102, 103, 104, 107, 200, 400, 401, 402, 403, 404, 405, 410, 406, 407, 408, 409, 510,
                      300)
_ARRAY_FIELDS = {ILLUMINA_ID: "<i4", SD: "<u2", MEAN: "<u2", NBEADS: "u1"}


def _encode_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    n, out = len(raw), bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    return bytes(out) + raw


def _decode_string(buf: bytes | memoryview, offset: int, path: Path) -> tuple[str, int]:
    """Decode a .NET string at ``offset``; return the text and the offset just past it."""
    length, shift, pos = 0, 0, offset
    while True:
        if pos >= len(buf):
            raise IdatError(f"'{path}' is truncated: a string field at byte {offset} runs past the end")
        byte = buf[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    end = pos + length
    if end > len(buf):
        raise IdatError(f"'{path}' is truncated: a string field at byte {offset} declares {length} bytes")
    return bytes(buf[pos:end]).decode("utf-8", errors="replace"), end


@dataclass
class Idat:
    """One parsed IDAT file (one colour channel of one sample).

    Arrays are aligned: element ``i`` of ``mean``, ``sd`` and ``n_beads`` belongs to bead type
    ``illumina_ids[i]`` (the probe *address*). ``raw_fields`` keeps the undecoded bytes of every scalar or
    string field and ``header_order`` / ``data_order`` the field order, so that writing reproduces the file.
    """

    illumina_ids: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n_beads: np.ndarray
    mid_block: np.ndarray
    raw_fields: dict[int, bytes] = field(default_factory=dict)
    header_order: tuple[int, ...] = DEFAULT_HEADER_ORDER
    data_order: tuple[int, ...] = DEFAULT_DATA_ORDER
    version: int = 3
    path: Path | None = None

    def __getattr__(self, name: str):
        # reached only for an attribute not set on the instance: ``sd`` / ``mid_block`` of a file read sparsely
        lazy = self.__dict__.get("_unread")
        if lazy is not None and name in lazy.fields:
            value = self.__dict__[name] = lazy.load(name)
            return value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @classmethod
    def from_arrays(
        cls,
        illumina_ids: np.ndarray,
        mean: np.ndarray,
        *,
        sd: np.ndarray | None = None,
        n_beads: np.ndarray | None = None,
        barcode: str = "000000000000",
        position: str = "R01C01",
        chip_type: str = "BeadChip 12x8",
        red_green: int = 0,
    ) -> Idat:
        """Build an IDAT from arrays (what the simulator and tests use); ``sd``/``n_beads`` default sensibly."""
        ids = np.asarray(illumina_ids, dtype="<i4")
        n = ids.shape[0]
        mean_arr = np.asarray(mean)
        if mean_arr.shape != (n,):
            raise ValueError(f"mean has shape {mean_arr.shape}, expected ({n},)")
        mean_arr = np.clip(np.rint(mean_arr), 0, 65535).astype("<u2")
        sd_arr = (np.clip(np.rint(mean_arr * 0.1), 0, 65535).astype("<u2") if sd is None
                  else np.clip(np.rint(np.asarray(sd)), 0, 65535).astype("<u2"))
        nb_arr = (np.full(n, 14, dtype="u1") if n_beads is None
                  else np.clip(np.asarray(n_beads), 0, 255).astype("u1"))
        raw = {
            RUN_INFO: struct.pack("<i", 0),
            RED_GREEN: struct.pack("<i", int(red_green)),
            MOSTLY_NULL: _encode_string(""),
            BARCODE: _encode_string(str(barcode)),
            CHIP_TYPE: _encode_string(chip_type),
            MOSTLY_A: _encode_string(position),
            UNKNOWN_6: b"\x00\x00\x00\x00",
        }
        for code in UNKNOWN_STRINGS:
            raw[code] = _encode_string("")
        return cls(illumina_ids=ids, mean=mean_arr, sd=sd_arr, n_beads=nb_arr, mid_block=ids.copy(),
                   raw_fields=raw)

    # -- decoded metadata -------------------------------------------------------------------------------
    def _string(self, code: int) -> str:
        raw = self.raw_fields.get(code)
        if raw is None:
            return ""
        return _decode_string(raw, 0, self.path or Path("<idat>"))[0]

    @property
    def n_probes(self) -> int:
        """Number of bead types (addresses) in the file."""
        return int(self.illumina_ids.shape[0])

    @property
    def barcode(self) -> str:
        """Sentrix (chip) barcode, e.g. ``5723646052``."""
        return self._string(BARCODE)

    @property
    def chip_type(self) -> str:
        """Chip type string, e.g. ``BeadChip 12x8``."""
        return self._string(CHIP_TYPE)

    @property
    def position(self) -> str:
        """Sentrix position on the chip, e.g. ``R01C01`` (``A``/``B`` on 27k chips)."""
        return self._string(MOSTLY_A)

    @property
    def red_green(self) -> int:
        """The RedGreen flag as stored (not a reliable channel indicator; use the file name)."""
        raw = self.raw_fields.get(RED_GREEN)
        return struct.unpack("<i", raw)[0] if raw and len(raw) == 4 else 0


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise IdatError(f"'{path}' does not exist") from None
    except IsADirectoryError:
        raise IdatError(f"'{path}' is a folder, not an IDAT file") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise IdatError(f"'{path}' is not a valid gzip file (truncated or corrupt): {exc}") from None
    except OSError as exc:
        raise IdatError(f"'{path}' cannot be read: {exc}") from None


@dataclass(frozen=True)
class _Unread:
    """Where the arrays left unread by :func:`_read_sparse` lie in the file, and the file's identity then."""

    path: Path
    identity: tuple[int, ...]
    #: name → (byte offset, count, dtype)
    fields: dict[str, tuple[int, int, str]]

    def load(self, name: str) -> np.ndarray:
        offset, count, dtype = self.fields[name]
        try:
            with open(self.path, "rb") as fh:
                if _identity(os.fstat(fh.fileno())) != self.identity:
                    raise IdatError(f"'{self.path}' has changed since it was read; its {name} can no longer be "
                                    "loaded — read the file again")
                fh.seek(offset)
                data = fh.read(count * np.dtype(dtype).itemsize)
        except OSError as exc:
            raise IdatError(f"'{self.path}' cannot be read again for its {name}: {exc}") from None
        if len(data) != count * np.dtype(dtype).itemsize:
            raise IdatError(f"'{self.path}' has changed since it was read: its {name} is cut short")
        return np.frombuffer(data, dtype=dtype, count=count)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class _ViewReader:
    """``read(n)`` over a buffer without copying it (what :func:`read_header` needs of a file)."""

    def __init__(self, buf) -> None:
        self._view, self._pos = memoryview(buf), 0

    def read(self, n: int) -> bytes:
        out = bytes(self._view[self._pos:self._pos + n])
        self._pos += len(out)
        return out


def _read_sparse(path: Path) -> Idat | None:
    """:func:`read_idat` of an uncompressed file without reading the ``SD`` and ``MidBlock`` payloads (loaded on
    first access, see the module docstring); None whenever the file is not laid out plainly enough for that
    (missing fields, a field inside a skipped range, a read cut short, any error) — the full read then decides."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            offsets = read_header(fh, path)
            size = st.st_size
            if not {NSNPS, SD, MID_BLOCK} <= offsets.keys() or max(offsets[NSNPS], offsets[MID_BLOCK]) + 4 > size:
                return None
            fh.seek(offsets[NSNPS])
            n = struct.unpack("<i", fh.read(4))[0]
            fh.seek(offsets[MID_BLOCK])
            count = struct.unpack("<i", fh.read(4))[0]
            skip = {"sd": (offsets[SD], n, "<u2", SD), "mid_block": (offsets[MID_BLOCK] + 4, count, "<i4", MID_BLOCK)}
            spans = sorted((o, o + c * np.dtype(d).itemsize) for o, c, d, _ in skip.values())
            if n <= 0 or count < 0 or spans[1][1] > size or spans[0][1] > spans[1][0]:
                return None
            # the plain layout only: no other field starts inside a skipped payload, the arrays read lie apart from
            # it, and every scalar / string field comes after both (so no string decode runs into them)
            for o, c, d, code in skip.values():
                end = o + c * np.dtype(d).itemsize
                if any(other != code and (o - 4 if code == MID_BLOCK else o) <= off < end
                       for other, off in offsets.items()):
                    return None
            for code, dtype in _ARRAY_FIELDS.items():
                if code != SD and code in offsets:
                    a, b = offsets[code], offsets[code] + n * np.dtype(dtype).itemsize
                    if any(a < e and s < b for s, e in spans):
                        return None
            if any(off < spans[1][1] for code, off in offsets.items()
                   if code not in _ARRAY_FIELDS and code not in (NSNPS, MID_BLOCK)):
                return None
            buf = np.empty(size, dtype=np.uint8)
            view, pos = memoryview(buf), 0
            for start, end in [*spans, (size, size)]:
                fh.seek(pos)
                if fh.readinto(view[pos:start]) != start - pos:
                    return None
                pos = end
    except (OSError, IdatError, struct.error):
        return None
    buf.flags.writeable = False
    idat = _parse_idat(memoryview(buf), path)
    # the skipped payloads were never read: drop the views over them, load from the file when asked for
    del idat.__dict__["sd"], idat.__dict__["mid_block"]
    idat.__dict__["_unread"] = _Unread(path, _identity(st), {k: v[:3] for k, v in skip.items()})
    return idat


def read_idat(path: str | Path) -> Idat:
    """Read an IDAT file (``.idat`` or ``.idat.gz``) into an :class:`Idat`.

    Parameters
    ----------
    path : str or Path
        The IDAT file (gzip-compressed when it is a gzip stream).

    Returns
    -------
    Idat
        The parsed file.

    Raises
    ------
    IdatError
        Naming the file when it is missing, not an IDAT, of an unsupported (encrypted) version, truncated, or a
        corrupt gzip stream.
    """
    path = Path(path)
    if not path.name.endswith(".gz"):
        idat = _read_sparse(path)
        if idat is not None:
            return idat
    return _parse_idat(_read_bytes(path), path)


def read_header(fh: BinaryIO, path: str | Path) -> dict[int, int]:
    """The field table of an IDAT opened at its first byte: ``{field code: byte offset}``.

    The one parser of the IDAT header, used by full reads (:func:`read_idat`), header peeks
    (:func:`methylclass.io.discover.peek_idat`) and array detection
    (:func:`methylclass.io.manifest.resolve.idat_address_count`); it reads only the first 16 bytes and the
    table (``.gz`` streams work too).

    Parameters
    ----------
    fh : binary file
        Positioned at the start of the file.
    path : str or Path
        Named in the errors.

    Returns
    -------
    dict of int to int
        Byte offset of each field.

    Raises
    ------
    IdatError
        Not an IDAT, an encrypted (version 1) or other unsupported version, a corrupt or truncated header.
    """
    head = fh.read(16)
    if head[:4] != MAGIC:
        raise IdatError(f"'{path}' is not an IDAT file: it does not start with the bytes 'IDAT'")
    if len(head) < 8:
        raise IdatError(f"'{path}' is truncated: {len(head)} bytes, shorter than an IDAT header")
    # illuminaio reads the version as int32 first: 1 marks the encrypted (XML) format of old scanners
    if struct.unpack_from("<i", head, 4)[0] == 1:
        raise IdatError(
            f"'{path}' is an encrypted IDAT (version 1); only version 3 (unencrypted) is supported — "
            "re-export the scan with current Illumina software")
    if len(head) < 16:
        raise IdatError(f"'{path}' is truncated: {len(head)} bytes, shorter than an IDAT header")
    version = struct.unpack_from("<q", head, 4)[0]
    if version != 3:
        raise IdatError(
            f"'{path}' is IDAT version {version}; only version 3 (unencrypted) is supported — "
            "re-export the scan with current Illumina software")
    n_fields = struct.unpack_from("<i", head, 12)[0]
    if n_fields <= 0 or n_fields > 1000:
        raise IdatError(f"'{path}' is corrupt: header declares {n_fields} fields")
    table = fh.read(10 * n_fields)
    if len(table) < 10 * n_fields:
        raise IdatError(f"'{path}' is truncated: header declares {n_fields} fields, the file ends inside "
                        "the field table")
    return {int(c): int(o) for c, o in struct.iter_unpack("<Hq", table)}


def _parse_idat(buf: bytes | memoryview, path: Path) -> Idat:
    """Parse the bytes of a version-3 IDAT; every error names ``path``."""
    offsets = read_header(_ViewReader(buf), path)
    table_end = 16 + 10 * struct.unpack_from("<i", buf, 12)[0]  # header checked by read_header
    for code in (NSNPS, ILLUMINA_ID, MEAN):
        if code not in offsets:
            raise IdatError(f"'{path}' is corrupt: required field {code} is missing from the header")
    for code, off in offsets.items():
        if off < table_end:
            raise IdatError(f"'{path}' is corrupt: field {code} points at byte {off:,}, inside the header")
    if offsets[NSNPS] + 4 > len(buf):
        raise IdatError(f"'{path}' is truncated: the probe count field at byte {offsets[NSNPS]:,} lies past "
                        f"the end of the file ({len(buf):,} bytes)")
    n = struct.unpack_from("<i", buf, offsets[NSNPS])[0]
    if n < 0:
        raise IdatError(f"'{path}' is corrupt: header declares {n} probes")
    arrays: dict[int, np.ndarray] = {}
    for code, dtype in _ARRAY_FIELDS.items():
        if code not in offsets:
            raise IdatError(f"'{path}' is corrupt: array field {code} is missing from the header")
        start = offsets[code]
        size = np.dtype(dtype).itemsize
        if start + n * size > len(buf):
            held = max(0, (len(buf) - start) // size)
            raise IdatError(f"'{path}' is truncated: header declares {n:,} probes, file holds {held:,}")
        arrays[code] = np.frombuffer(buf, dtype=dtype, count=n, offset=start)
    for code, off in offsets.items():
        if off > len(buf):
            raise IdatError(f"'{path}' is truncated: field {code} starts at byte {off:,} but the file holds "
                            f"{len(buf):,} bytes")
    mid_block = np.zeros(0, dtype="<i4")
    if MID_BLOCK in offsets:
        start = offsets[MID_BLOCK]
        if start + 4 > len(buf):
            raise IdatError(f"'{path}' is truncated inside the MidBlock field")
        count = struct.unpack_from("<i", buf, start)[0]
        if count < 0:
            raise IdatError(f"'{path}' is corrupt: MidBlock declares {count} entries")
        if start + 4 + 4 * count > len(buf):
            raise IdatError(f"'{path}' is truncated: MidBlock declares {count:,} entries")
        mid_block = np.frombuffer(buf, dtype="<i4", count=count, offset=start + 4)

    # raw bytes of every other field: from its offset to the next field's offset (or the end of the file)
    sorted_codes = sorted(offsets, key=lambda c: offsets[c])
    bounds = [offsets[c] for c in sorted_codes] + [len(buf)]
    raw_fields: dict[int, bytes] = {}
    for i, code in enumerate(sorted_codes):
        if code in _ARRAY_FIELDS or code in (NSNPS, MID_BLOCK):
            continue
        raw_fields[code] = bytes(buf[bounds[i]:bounds[i + 1]])
    for code in (BARCODE, CHIP_TYPE, MOSTLY_A):  # validate the strings users see (errors name the file)
        if code in offsets:
            _decode_string(buf, offsets[code], path)
    if RUN_INFO in offsets:  # int32 block count, then 5 strings per block; a cut file ends inside it
        pos = offsets[RUN_INFO]
        if pos + 4 > len(buf):
            raise IdatError(f"'{path}' is truncated inside the RunInfo field at byte {pos:,}")
        n_blocks, pos = struct.unpack_from("<i", buf, pos)[0], pos + 4
        for _ in range(5 * max(0, n_blocks)):
            pos = _decode_string(buf, pos, path)[1]
    idat = Idat(
        illumina_ids=arrays[ILLUMINA_ID], mean=arrays[MEAN], sd=arrays[SD], n_beads=arrays[NBEADS],
        mid_block=mid_block, raw_fields=raw_fields,
        header_order=tuple(int(c) for c, _ in struct.iter_unpack("<Hq", buf[16:table_end])),
        data_order=tuple(sorted_codes), version=3, path=path,
    )
    return idat


def idat_to_bytes(idat: Idat) -> bytes:
    """Serialise an :class:`Idat` to the bytes of a version-3 IDAT file."""
    n = idat.n_probes
    for name in ("mean", "sd", "n_beads"):
        if getattr(idat, name).shape[0] != n:
            raise IdatError(f"cannot write IDAT: {name} has {getattr(idat, name).shape[0]} entries, "
                            f"illumina_ids has {n}")
    payload = {
        NSNPS: struct.pack("<i", n),
        ILLUMINA_ID: np.ascontiguousarray(idat.illumina_ids, dtype="<i4").tobytes(),
        SD: np.ascontiguousarray(idat.sd, dtype="<u2").tobytes(),
        MEAN: np.ascontiguousarray(idat.mean, dtype="<u2").tobytes(),
        NBEADS: np.ascontiguousarray(idat.n_beads, dtype="u1").tobytes(),
        MID_BLOCK: struct.pack("<i", idat.mid_block.shape[0])
        + np.ascontiguousarray(idat.mid_block, dtype="<i4").tobytes(),
    }
    payload.update(idat.raw_fields)
    header_order = [c for c in idat.header_order if c in payload]
    header_order += [c for c in payload if c not in header_order]
    data_order = [c for c in idat.data_order if c in payload]
    data_order += [c for c in header_order if c not in data_order]
    offset = 16 + 10 * len(header_order)
    offsets: dict[int, int] = {}
    for code in data_order:
        offsets[code] = offset
        offset += len(payload[code])
    parts = [MAGIC, struct.pack("<q", 3), struct.pack("<i", len(header_order))]
    parts += [struct.pack("<Hq", code, offsets[code]) for code in header_order]
    parts += [payload[code] for code in data_order]
    return b"".join(parts)


def write_idat(path: str | Path, idat: Idat) -> Path:
    """Write ``idat`` to ``path`` (gzip-compressed when the name ends in ``.gz``), atomically.

    The file is written to a temporary name in the same folder and renamed, so a crash never leaves a
    half-written IDAT behind.

    Parameters
    ----------
    path : str or Path
        Destination file; a name ending in ``.gz`` is gzip-compressed.
    idat : Idat
        The IDAT contents to write.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    data = idat_to_bytes(idat)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.name.endswith(".gz"):
        with gzip.open(tmp, "wb", compresslevel=1) as fh:
            fh.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
    return path
