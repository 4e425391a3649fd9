#!/usr/bin/python3
"""Minimal safetensors writer and reader (json + struct + numpy) for the reference fixtures.

Not a general safetensors library: it writes F64, F32 and I64 tensors in insertion order, with
string-to-string `__metadata__`; no dependency on the `safetensors` pip package.

File layout (https://github.com/huggingface/safetensors, "Format"):
  8 bytes   little-endian u64 N = length of the JSON header in bytes (header includes padding)
  N bytes   UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}, ...}
            padded with spaces so that 8 + N is a multiple of 8
  rest      raw little-endian tensor data; data_offsets = [begin, end) relative to the byte after
            the header, tensors stored back to back in the order they were added
"""
import json
import struct
from collections import OrderedDict

import numpy as np

_DTYPES = {
    np.dtype('<f8'): 'F64',
    np.dtype('<f4'): 'F32',
    np.dtype('<i8'): 'I64',
}
_NP_OF = {v: k for k, v in _DTYPES.items()}


def _to_numpy(value):
    """Accepts numpy arrays, torch tensors, Python floats/ints; returns a C-contiguous LE array."""
    if hasattr(value, 'detach'):  # torch.Tensor, without importing torch here
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind == 'f' and arr.dtype != np.float32:
        arr = arr.astype('<f8')
    elif arr.dtype.kind in 'iub':
        arr = arr.astype('<i8')
    arr = arr.astype(arr.dtype.newbyteorder('<'), order='C', copy=True)  # keeps 0-d shape ()
    if arr.dtype not in _DTYPES:
        raise TypeError(f'unsupported dtype {arr.dtype}')
    return arr


def save_file(tensors, path, metadata=None):
    """tensors: ordered mapping name -> array-like. metadata: mapping str -> str (or None)."""
    header = OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f'metadata must be str -> str, got {k!r}: {v!r}')
        header['__metadata__'] = OrderedDict(metadata)
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if name == '__metadata__':
            raise ValueError('"__metadata__" is reserved')
        arr = _to_numpy(value)
        data = arr.tobytes(order='C')
        header[name] = OrderedDict([
            ('dtype', _DTYPES[arr.dtype]),
            ('shape', list(arr.shape)),
            ('data_offsets', [offset, offset + len(data)]),
        ])
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def load_file(path):
    """Returns (OrderedDict name -> numpy array, metadata dict). Checks offsets are contiguous."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'), object_pairs_hook=OrderedDict)
    metadata = header.pop('__metadata__', {})
    body = raw[8 + n:]
    out = OrderedDict()
    expected = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        begin, end = info['data_offsets']
        if begin != expected:
            raise ValueError(f'{path}: {name}: data_offsets not contiguous')
        dtype = _NP_OF[info['dtype']]
        arr = np.frombuffer(body[begin:end], dtype=dtype).reshape(info['shape'])
        out[name] = arr
        expected = end
    if expected != len(body):
        raise ValueError(f'{path}: {len(body) - expected} trailing bytes')
    # restore file order by offset (already) and return
    return out, metadata
