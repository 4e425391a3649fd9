#!/usr/bin/python3
"""PyTorch checkpoint fixtures for data/pth.h and models/mtfn/pth_checkpoint.h (tests/pth/).

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24), from the repository root:
    /usr/bin/python3 tools/make_pth_fixtures.py [--out tests/fixtures/pth]

Writes, with real torch.save:
  mtfn_small.pth             an MTFN state_dict as MMSA saves it (names prefixed "Model."), zip format
  mtfn_small_legacy.pth      the same state, torch's legacy (non-zip) format
  mtfn_small_cls.pth         a classification MTFN (num_classes 3), no prefix, float64 tensors
  mtfn_small_inconsistent.pth  mtfn_small.pth with a name missing, one extra and one wrongly shaped
  views.pth / views_legacy.pth  tensors saved as views: transposed, sliced with an offset, strided,
                             expanded (stride 0), sharing one storage, float64, int64, 0-dim, empty
  views.json                 the values every entry of views.pth must read as (row-major)
  sims_small.pkl             a small feature file in MMSA's layout (numpy, pickle protocol 4) whose
                             feature sizes fit the small MTFN (-inf in audio, NaN in vision)
  predictions.json           PyTorch's eval-mode outputs M/T/A/V of mtfn_small.pth and
                             mtfn_small_cls.pth on the test split of sims_small.pkl (float32)
and under broken/, hand-made hostile files plus broken/expected.json: file -> a piece of the
one-line error message each must give.
"""
import argparse
import collections
import io
import json
import os
import pickle
import pickletools
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_mtfn as tm  # noqa: E402

SMALL = {
    'feature_dims': [12, 5, 7], 'hidden_dims': [8, 4, 8], 'text_out': 8,
    'post_fusion_dim': 6, 'post_text_dim': 5, 'post_audio_dim': 3, 'post_video_dim': 4,
}
SEQ, AUDIO_FRAMES, VISION_FRAMES = 6, 9, 8
SPLITS = {'train': 10, 'valid': 6, 'test': 9}


class AMIO(torch.nn.Module):
    """MMSA's wrapper: the model lives under `self.Model`, so its state_dict names start with 'Model.'."""

    def __init__(self, model):
        super().__init__()
        self.Model = model


def make_model(cfg, seed, batches):
    """An MTFN with random weights and BatchNorm statistics that are not the defaults."""
    torch.manual_seed(seed)
    model = tm.MTFN(cfg)
    model.train()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _ in range(batches):  # running_mean/var and num_batches_tracked move away from 0/1/0
            dt, da, dv = cfg['feature_dims']
            model(torch.randn(4, SEQ, dt, generator=gen), 2 + 3 * torch.randn(4, da, generator=gen),
                  -1 + 0.5 * torch.randn(4, dv, generator=gen))
    model.eval()
    return model


# ---------------------------------------------------------------- the feature file

def make_sims(cfg, seed):
    rng = np.random.default_rng(seed)
    dt, da, dv = cfg['feature_dims']
    data = {}
    for split, n in SPLITS.items():
        text = np.zeros((n, SEQ, dt), np.float32)
        audio = np.zeros((n, AUDIO_FRAMES, da), np.float64)
        vision = np.zeros((n, VISION_FRAMES, dv), np.float64)
        tl = rng.integers(2, SEQ + 1, n)
        al = rng.integers(3, AUDIO_FRAMES + 1, n)
        vl = rng.integers(3, VISION_FRAMES + 1, n)
        for i in range(n):
            text[i, :tl[i]] = rng.normal(0, 1, (tl[i], dt))
            audio[i, :al[i]] = rng.normal(1, 2, (al[i], da))
            vision[i, :vl[i]] = rng.normal(0, 1, (vl[i], dv))
        audio[0, 0, 1] = -np.inf          # MMSA: -inf -> 0 before the time mean
        vision[1, VISION_FRAMES - 1, 2] = np.nan  # NaN in a padding row: the mean is NaN -> 0
        labels = {k: np.round(rng.uniform(-1, 1, n) * 5) / 5 for k in ['', '_T', '_A', '_V']}
        d = {
            'id': [f'video_{i // 3:04d}$_${i % 3 + 1:04d}' for i in range(n)],
            'raw_text': ['文本 %d' % i for i in range(n)],
            'text': text,
            'audio': audio,
            'vision': vision,
            'audio_lengths': al.astype(np.int64),
            'vision_lengths': vl.astype(np.int64),
        }
        for k, v in labels.items():
            d['regression_labels' + k] = v.astype(np.float32)
        data[split] = d
    return data


def mmsa_features(split):
    """MMSA's data_loader with need_normalized: float32, audio -inf -> 0, time mean, NaN -> 0."""
    text = split['text'].astype(np.float32)
    audio = split['audio'].astype(np.float32)
    audio[audio == -np.inf] = 0
    vision = split['vision'].astype(np.float32)
    audio = np.mean(audio.transpose(1, 0, 2), axis=0)
    vision = np.mean(vision.transpose(1, 0, 2), axis=0)
    audio[audio != audio] = 0
    vision[vision != vision] = 0
    return torch.from_numpy(text), torch.from_numpy(audio), torch.from_numpy(vision)


def predictions(model, split):
    model.eval()
    with torch.no_grad():
        out = model(*mmsa_features(split))
    return {k: out[k].double().tolist() for k in 'MTAV'}


# ---------------------------------------------------------------- views

def make_views():
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3   # one storage of 24 elements
    grid = base.view(4, 6)
    d = collections.OrderedDict()
    d['transposed'] = grid.t()                      # (6, 4), stride (1, 6)
    d['rows'] = grid[1:3]                           # offset 6, contiguous
    d['columns'] = grid[:, 1:5:2]                   # offset 1, stride (6, 2)
    d['whole'] = grid                               # the same storage again
    d['flat_tail'] = base[20:]                      # offset 20
    d['expanded'] = torch.tensor([1.5, -2.0, 4.25]).expand(2, 3)  # stride (0, 1)
    d['float64'] = torch.arange(12, dtype=torch.float64).reshape(3, 4).t()[1:] / 7
    d['int64'] = torch.tensor([3, -5, 7, 1 << 40], dtype=torch.int64)
    d['count'] = torch.tensor(17, dtype=torch.int64)  # 0-dim, as num_batches_tracked
    d['scalar'] = torch.tensor(2.5)                   # 0-dim float32
    d['empty'] = torch.zeros(0, 3)
    d['big_stride'] = torch.arange(40, dtype=torch.float32).view(2, 4, 5).permute(2, 0, 1)[1:4, :, ::3]
    expected = collections.OrderedDict()
    for k, v in d.items():
        expected[k] = {'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape),
                       'values': v.contiguous().reshape(-1).tolist()}
    return d, expected


# ---------------------------------------------------------------- hostile files, made by hand

class FakeStorage:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel = key, stype, numel


class FakeTensor:
    """Pickles as torch's tensors do: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride, extra=()):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict()) + tuple(extra)

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ('storage', obj.stype, obj.key, 'cpu', obj.numel)
        return None


def torch_pickle(obj):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def zip_put(z, name, data):
    z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)  # same bytes every run


def write_zip(path, pkl, storages, prefix='archive'):
    """storages: key -> raw bytes. Laid out as torch does (stored, not compressed)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        zip_put(z, f'{prefix}/data.pkl', pkl)
        for key, data in storages.items():
            zip_put(z, f'{prefix}/data/{key}', data)
        zip_put(z, f'{prefix}/version', b'3\n')


def f32(n, start=0.0):
    return (np.arange(n, dtype=np.float32) + start).tobytes()


def make_broken(out, good_zip, good_legacy):
    """Each hostile file and the piece of its error message."""
    expected = collections.OrderedDict()
    fs12 = FakeStorage('0', torch.FloatStorage, 12)

    def put(name, message, pkl=None, storages=None, raw=None):
        path = os.path.join(out, name)
        if raw is not None:
            with open(path, 'wb') as f:
                f.write(raw)
        else:
            write_zip(path, pkl, storages if storages is not None else {'0': f32(12)})
        expected[name] = message

    def state(**tensors):
        return torch_pickle(collections.OrderedDict(tensors))

    # views reaching past their storage (PyTorch < 2.10 read past the buffer: CVE-2026-24747)
    put('view_past_storage.pth', "reaches element 13 of storage '0', which has 12 elements",
        state(w=FakeTensor(fs12, 10, [4], [1])))
    put('stride_past_storage.pth', "reaches element 19 of storage '0', which has 12 elements",
        state(w=FakeTensor(fs12, 0, [3, 4], [8, 1])))
    put('stride_overflow.pth', 'overflows',
        state(w=FakeTensor(fs12, 0, [3, 3], [1 << 62, 1 << 62])))
    put('size_overflow.pth', 'more elements than fit 64 bits',
        state(w=FakeTensor(fs12, 0, [1 << 40, 1 << 40, 1 << 40], [0, 0, 0])))
    put('empty_view_past_storage.pth', 'lies outside storage',
        state(w=FakeTensor(fs12, 13, [0], [1])))
    put('expanded_huge.pth', "a view of size (1073741824,) repeats the 1 elements of storage '0'",
        state(w=FakeTensor(FakeStorage('0', torch.FloatStorage, 1), 0, [1 << 30], [0])), {'0': f32(1)})
    put('negative_offset.pth', 'storage offset is',
        state(w=FakeTensor(fs12, -1, [2], [1])))
    put('negative_stride.pth', 'negative dimension',
        state(w=FakeTensor(fs12, 11, [2], [-1])))
    put('size_stride_lengths.pth', 'differ in length',
        state(w=FakeTensor(fs12, 0, [2, 3], [3])))
    # declared storage lengths against the bytes in the archive
    put('storage_bytes_short.pth', "holds 40 bytes, the pickle declares 12 float32 (48 bytes)",
        state(w=FakeTensor(fs12, 0, [12], [1])), {'0': f32(10)})
    put('storage_bytes_long.pth', "holds 52 bytes, the pickle declares 12 float32 (48 bytes)",
        state(w=FakeTensor(fs12, 0, [12], [1])), {'0': f32(13)})
    path = os.path.join(out, 'crc_mismatch.pth')  # one bit of a storage flipped: the zip's CRC-32 catches it
    write_zip(path, state(w=FakeTensor(fs12, 0, [12], [1])), {'0': f32(12)})
    with open(path, 'rb') as f:
        raw = bytearray(f.read())
    info = zipfile.ZipFile(path).getinfo('archive/data/0')
    name_len, extra_len = np.frombuffer(bytes(raw[info.header_offset + 26:info.header_offset + 30]), '<u2')
    raw[info.header_offset + 30 + int(name_len) + int(extra_len) + 5] ^= 0x10
    put('crc_mismatch.pth', "archive/data/0: CRC error (the file is damaged)", raw=bytes(raw))
    put('storage_missing.pth', "storage 'archive/data/1' is missing from the archive",
        state(w=FakeTensor(fs12, 0, [12], [1]), b=FakeTensor(FakeStorage('1', torch.FloatStorage, 3), 0, [3], [1])))
    put('storage_conflict.pth', "storage '0' is named as 12 float32 and as 6 float64",
        state(w=FakeTensor(fs12, 0, [12], [1]), b=FakeTensor(FakeStorage('0', torch.DoubleStorage, 6), 0, [6], [1])))
    put('storage_huge.pth', 'is too large',
        state(w=FakeTensor(FakeStorage('0', torch.FloatStorage, 1 << 61), 0, [4], [1])))
    put('storage_half.pth', 'torch.HalfStorage are not supported',
        state(w=FakeTensor(FakeStorage('0', torch.HalfStorage, 12), 0, [12], [1])))
    # the archive itself
    with open(good_zip, 'rb') as f:
        good = f.read()
    put('truncated_zip.pth', 'not a readable zip archive', raw=good[:len(good) // 2])
    put('truncated_zip_tail.pth', 'not a readable zip archive', raw=good[:-10])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        zip_put(z, 'archive/version', b'3\n')
    put('zip_without_pickle.pth', 'holds no <name>/data.pkl', raw=buf.getvalue())
    put('text_file.pth', 'not a PyTorch checkpoint', raw=b'hello, this is not a checkpoint\n')
    put('plain_pickle.pth', "a pickle without torch's header", raw=pickle.dumps({'a': 1}, protocol=4))
    put('empty_file.pth', 'not a PyTorch checkpoint', raw=b'')
    # the legacy stream
    with open(good_legacy, 'rb') as f:
        legacy = f.read()
    put('legacy_truncated.pth', 'truncated', raw=legacy[:len(legacy) - 100])
    put('legacy_cut_in_pickle.pth', 'truncated', raw=legacy[:200])
    f = io.BytesIO(legacy)
    for _ in range(5):  # magic, protocol version, sys_info, the state_dict, the storage keys
        for _ in pickletools.genops(f):
            pass
    at = f.tell()  # the first storage's element count
    numel = int(np.frombuffer(legacy[at:at + 8], '<i8')[0])
    put('legacy_numel_mismatch.pth', f'holds {numel + 1} elements, the pickle declares {numel}',
        raw=legacy[:at] + np.int64(numel + 1).tobytes() + legacy[at + 8:])
    # globals and opcodes a state_dict never needs
    put('os_system.pth', "global 'posix.system' is not allowed",
        b'\x80\x02cposix\nsystem\nX\x02\x00\x00\x00idtR.')
    put('builtins_eval.pth', "global 'builtins.eval' is not allowed",
        b'\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R.')
    put('numpy_global.pth', "global 'numpy.core.multiarray._reconstruct' is not allowed",
        b'\x80\x02cnumpy.core.multiarray\n_reconstruct\n.')
    put('rebuild_parameter.pth', "global 'torch._utils._rebuild_parameter' is not allowed",
        b'\x80\x02ctorch._utils\n_rebuild_parameter\n.')
    put('append_on_dict.pth', 'APPEND applied to a dict', b'\x80\x02}K\x01a.')
    put('setitem_on_list.pth', 'SETITEM applied to a list', b'\x80\x02]K\x01K\x02s.')
    put('call_storage.pth', 'cannot be called', b'\x80\x02ctorch\nFloatStorage\n)R.')
    put('reduce_on_str.pth', 'REDUCE applied to a str', b'\x80\x02X\x01\x00\x00\x00a)R.')
    put('persid_of_str.pth', 'BINPERSID of a str (expected a tuple)', b'\x80\x02X\x01\x00\x00\x00aQ.')
    put('persid_not_storage.pth', "not a 'storage' record",
        b'\x80\x02(X\x04\x00\x00\x00evilctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ.')
    put('persid_type_not_storage.pth', 'not a storage class',
        b'\x80\x02(X\x07\x00\x00\x00storageccollections\nOrderedDict\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ.')
    put('rebuild_of_str.pth', '_rebuild_tensor_v2 of a str (expected a storage)',
        b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00aK\x00K\x01\x85K\x01\x85\x89}tR.')
    put('rebuild_few_args.pth', 'takes 6-7 arguments, got 2',
        b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\nK\x00K\x00\x86R.')
    pkl = torch_pickle(FakeTensor(fs12, 0, [12], [1]))
    put('build_on_tensor.pth', 'BUILD applied to a torch.Tensor', pkl[:-1] + b'}b.')
    put('build_ordered_dict_with_list.pth', 'OrderedDict state is a list',
        b'\x80\x02ccollections\nOrderedDict\n)R]b.')
    put('top_level_list.pth', 'the checkpoint holds a list', torch_pickle([FakeTensor(fs12, 0, [12], [1])]))
    put('entry_not_tensor.pth', "state_dict entry 'epoch' is an int (expected a tensor)",
        state(w=FakeTensor(fs12, 0, [12], [1]), epoch=3))
    put('hooks_not_dict.pth', 'backward_hooks is a list',
        torch_pickle(collections.OrderedDict(w=FakeTensorArgs(fs12, 0, [12], [1], hooks=[]))))
    put('int64_not_exact.pth', 'is not exact in float64',
        state(n=FakeTensor(FakeStorage('0', torch.LongStorage, 1), 0, [], [])),
        {'0': np.int64((1 << 53) + 1).tobytes()})
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write('\n')
    return expected


class FakeTensorArgs(FakeTensor):
    def __init__(self, storage, offset, size, stride, hooks):
        self.args = (storage, offset, tuple(size), tuple(stride), False, hooks)


def save_legacy(obj, path):
    """torch.save in the legacy format, made the same every run: the storage keys (memory addresses)
    renamed '0', '1', ... in order of first use, the key list and the storages in that order."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    f = io.BytesIO(raw)
    for _ in range(3):  # magic, protocol version, sys_info
        for _ in pickletools.genops(f):
            pass
    head, main_at = raw[:f.tell()], f.tell()

    class Keys(pickle.Unpickler):  # records (key, storage type) in order of first use; builds nothing
        def find_class(self, module, name):
            if (module, name) == ('collections', 'OrderedDict'):
                return collections.OrderedDict
            if name == '_rebuild_tensor_v2':
                return lambda *args: None
            return name
        def persistent_load(self, pid):
            self.types.setdefault(pid[2], pid[1])

    unpickler = Keys(f)
    unpickler.types = {}
    unpickler.load()
    state = raw[main_at:f.tell()]
    old_keys = pickle.load(f)
    blobs = {}
    for key in old_keys:
        numel = int(np.frombuffer(f.read(8), '<i8')[0])
        size = {'FloatStorage': 4, 'DoubleStorage': 8, 'LongStorage': 8}[unpickler.types[key]]
        blobs[key] = np.int64(numel).tobytes() + f.read(numel * size)
    order = list(unpickler.types)
    for i, key in enumerate(order):
        old, new = key.encode(), str(i).encode()
        state = state.replace(b'X' + len(old).to_bytes(4, 'little') + old, b'X' + len(new).to_bytes(4, 'little') + new)
    with open(path, 'wb') as out:
        out.write(head + state + pickle.dumps([str(i) for i in range(len(order))], protocol=2))
        for key in order:
            out.write(blobs[key])
    loaded = torch.load(path)
    assert list(loaded) == list(obj) and all(torch.equal(loaded[k], obj[k]) for k in obj), path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='tests/fixtures/pth')
    args = ap.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, 'broken'), exist_ok=True)
    torch.use_deterministic_algorithms(True)

    reg = tm.make_config(SMALL)
    model = make_model(reg, 1111, 3)
    amio = AMIO(model)
    torch.save(amio.state_dict(), os.path.join(out, 'mtfn_small.pth'))
    save_legacy(amio.state_dict(), os.path.join(out, 'mtfn_small_legacy.pth'))

    # a state_dict that does not fit together: one name missing, one extra, one wrongly shaped
    bad = amio.state_dict()
    del bad['Model.post_text_layer_2.bias']
    bad['Model.extra.weight'] = torch.zeros(2)
    bad['Model.post_fusion_layer_1.weight'] = torch.zeros(6, 400)
    torch.save(bad, os.path.join(out, 'mtfn_small_inconsistent.pth'))

    cls_cfg = tm.make_config(dict(SMALL, train_mode='classification', num_classes=3))
    cls_model = make_model(cls_cfg, 1113, 2).double()
    torch.save(cls_model.state_dict(), os.path.join(out, 'mtfn_small_cls.pth'))

    views, expected_views = make_views()
    torch.save(views, os.path.join(out, 'views.pth'))
    save_legacy(views, os.path.join(out, 'views_legacy.pth'))
    with open(os.path.join(out, 'views.json'), 'w') as f:
        json.dump(expected_views, f, indent=1)
        f.write('\n')

    sims = make_sims(reg, 7)
    with open(os.path.join(out, 'sims_small.pkl'), 'wb') as f:
        pickle.dump(sims, f, protocol=4)
    with open(os.path.join(out, 'sims_small.pkl'), 'rb') as f:
        sims = pickle.load(f)
    preds = collections.OrderedDict()
    preds['split'] = 'test'
    preds['ids'] = sims['test']['id']
    preds['mtfn_small.pth'] = predictions(model, sims['test'])
    preds['mtfn_small_cls.pth'] = predictions(cls_model.float(), sims['test'])
    with open(os.path.join(out, 'predictions.json'), 'w') as f:
        json.dump(preds, f, indent=1, ensure_ascii=False)
        f.write('\n')

    # every good file must load in PyTorch as saved
    for name in ['mtfn_small.pth', 'mtfn_small_legacy.pth', 'mtfn_small_cls.pth', 'views.pth', 'views_legacy.pth']:
        torch.load(os.path.join(out, name))

    broken = make_broken(os.path.join(out, 'broken'), os.path.join(out, 'mtfn_small.pth'),
                         os.path.join(out, 'mtfn_small_legacy.pth'))
    print(f'wrote {out}: 5 checkpoints, views.json, sims_small.pkl, predictions.json, {len(broken)} broken files')


if __name__ == '__main__':
    main()
