#!/usr/bin/python3
"""Writes the pickle fixtures for tests/data/ with real Python pickle and real numpy.

Tiny MMSA-layout feature files in every storage variant of shared/spec/sims-data.md, each with a
JSON sidecar of the values MMSA's loader would produce (expected.json), plus a directory of broken
and hostile files with the error each must give (broken/expected.json). Not a data generator for
training: the files are a few KB. Run with Debian's /usr/bin/python3 (numpy 1.24):

    /usr/bin/python3 tools/make_pickle_fixtures.py [--out tests/fixtures/pickle]
"""
import argparse
import collections
import json
import os
import pickle
import pickletools
import struct

import numpy as np

# Small shapes: N per split, text (T, Dt), audio (Ta, Da), vision (Tv, Dv).
SPLITS = {"train": 3, "valid": 2, "test": 2}
TEXT_T, TEXT_D, AUDIO_T, AUDIO_D, VISION_T, VISION_D = 4, 5, 6, 3, 4, 5
WORDS = ["我们", "今天", "很开心", "电影", "不好看", "真的", "喜欢"]


def make_split(rng, name, n, *, dims=(TEXT_D, AUDIO_D, VISION_D), text_dtype=np.float32, av_dtype=np.float64,
               unimodal=True, label_range=1.0):
    td, ad, vd = dims
    text = rng.standard_normal((n, TEXT_T, td)).astype(text_dtype)
    text[:, -1, :] = 0  # padding row
    audio = (rng.standard_normal((n, AUDIO_T, ad)) * 3 + 1).astype(av_dtype)
    audio[0, 1, 0] = -np.inf          # -inf in a valid frame: becomes 0 before the mean
    audio[:, -1, :] = 0               # padding
    vision = rng.standard_normal((n, VISION_T, vd)).astype(av_dtype)
    vision[:, -1, :] = 0
    vision[n - 1, -1, 2] = np.nan     # NaN in a padding row: that feature's mean becomes 0
    grid = np.round(rng.uniform(-label_range, label_range, size=(4, n)) * 5) / 5
    split = {
        "id": [f"vid{name}_{i:03d}$_${i + 1}" for i in range(n)],
        "raw_text": [WORDS[i % len(WORDS)] + WORDS[(i * 3 + 1) % len(WORDS)] + "。" for i in range(n)],
        "text": text,
        "text_bert": np.zeros((n, 3, TEXT_T), dtype=np.float32),
        "audio": audio,
        "audio_lengths": np.full(n, AUDIO_T - 1, dtype=np.int64),
        "vision": vision,
        "vision_lengths": np.full(n, VISION_T - 1, dtype=np.int64),
        "annotations": ["Positive" if x > 0 else "Negative" for x in grid[0]],
        "classification_labels": np.where(grid[0] > 0.1, 2, np.where(grid[0] <= -0.1, 0, 1)).astype(np.float64),
        "regression_labels": grid[0].astype(np.float64),
    }
    if unimodal:
        for k, m in enumerate("TAV"):
            split["regression_labels_" + m] = grid[1 + k].astype(np.float64)
    return split


def mmsa_expected(data):
    """What MMSA's data_loader (need_normalized=True) computes, as plain lists."""
    out = {"splits": {}, "labels_present": ""}
    present = None
    for name in ("train", "valid", "test"):
        s = data[name]
        text = np.asarray(s["text"]).astype(np.float32)
        audio = np.asarray(s["audio"]).astype(np.float32)
        vision = np.asarray(s["vision"]).astype(np.float32)
        audio[audio == -np.inf] = 0
        vision = np.mean(np.transpose(vision, (1, 0, 2)), axis=0, keepdims=True)
        audio = np.mean(np.transpose(audio, (1, 0, 2)), axis=0, keepdims=True)
        vision[vision != vision] = 0
        audio[audio != audio] = 0
        labels = {"M": np.array(s["regression_labels"]).astype(np.float32)}
        for m in "TAV":
            if "regression_labels_" + m in s:
                labels[m] = np.asarray(s["regression_labels_" + m]).astype(np.float32)
        keys = "".join(labels)
        present = keys if present is None else present
        out["splits"][name] = {
            "n": int(len(labels["M"])),
            "text_shape": list(text.shape),
            "text": [float(x) for x in text.ravel()],
            "audio": [float(x) for x in audio.ravel()],
            "vision": [float(x) for x in vision.ravel()],
            "labels": {k: [float(x) for x in v.ravel()] for k, v in labels.items()},
            "audio_lengths": [int(x) for x in s["audio_lengths"]],
            "vision_lengths": [int(x) for x in s["vision_lengths"]],
            "id": [str(x) for x in s["id"]],
            "raw_text": [str(x) for x in s["raw_text"]],
        }
    out["labels_present"] = present
    out["dims"] = [int(data["train"]["text"].shape[2]), int(data["train"]["audio"].shape[2]),
                   int(data["train"]["vision"].shape[2])]
    return out


def variants():
    """(file name, protocol, data) for every storage variant the spec lists."""
    out = []
    rng = np.random.default_rng(20240601)

    # protocol 2: everything float32, bytes via _codecs.encode, strings as numpy '<U' arrays
    d = {n: make_split(rng, n, k, av_dtype=np.float32) for n, k in SPLITS.items()}
    for s in d.values():
        s["id"] = np.array(s["id"])
        s["raw_text"] = np.array(s["raw_text"])
        for key in list(s):
            if key.startswith("regression_labels"):
                s[key] = s[key].astype(np.float32)
    out.append(("p2_float32_unicode.pkl", 2, d))

    # protocol 3: float32 text, float64 audio/vision, labels and lengths as plain lists,
    # strings as numpy object arrays
    d = {n: make_split(rng, n, k) for n, k in SPLITS.items()}
    for s in d.values():
        for key in list(s):
            if key.startswith("regression_labels"):
                s[key] = [float(x) for x in s[key]]
        s["audio_lengths"] = [int(x) for x in s["audio_lengths"]]
        s["vision_lengths"] = [int(x) for x in s["vision_lengths"]]
        s["id"] = np.array(s["id"], dtype=object)
        s["raw_text"] = np.array(s["raw_text"], dtype=object)
    d = collections.OrderedDict(d)  # some writers keep an OrderedDict at the top
    out.append(("p3_lists_object.pkl", 3, d))

    # protocol 4 (the usual): Fortran-ordered audio, big-endian vision, int32 lengths, float32
    # labels, list-of-str ids, '<U' raw text; an extra top-level 'config' key to ignore
    d = {n: make_split(rng, n, k) for n, k in SPLITS.items()}
    for s in d.values():
        s["audio"] = np.asfortranarray(s["audio"])
        s["vision"] = s["vision"].astype(">f8")
        s["audio_lengths"] = s["audio_lengths"].astype(np.int32)
        s["vision_lengths"] = s["vision_lengths"].astype(np.int32)
        s["regression_labels"] = s["regression_labels"].astype(np.float32)
        s["raw_text"] = np.array(s["raw_text"])
    d["config"] = {"feature_dims": [TEXT_D, AUDIO_D, VISION_D], "note": "ignored"}
    out.append(("p4_fortran_bigendian.pkl", 4, d))

    # protocol 5: _frombuffer with BYTEARRAY8, float64 text in Fortran order, big-endian float32
    # audio, labels of shape (N, 1), object-array strings
    d = {n: make_split(rng, n, k, text_dtype=np.float64) for n, k in SPLITS.items()}
    for s in d.values():
        s["text"] = np.asfortranarray(s["text"])
        s["audio"] = s["audio"].astype(">f4")
        s["regression_labels"] = s["regression_labels"].reshape(-1, 1)
        s["id"] = np.array(s["id"], dtype=object)
    out.append(("p5_frombuffer.pkl", 5, d))

    # MOSI-like: no unimodal labels, labels in [-3, 3], other feature sizes, valid labels as a list of numpy scalars
    d = {n: make_split(rng, n, k, dims=(7, 4, 6), unimodal=False, label_range=3.0) for n, k in SPLITS.items()}
    d["valid"]["regression_labels"] = list(d["valid"]["regression_labels"])  # numpy float64 scalars
    out.append(("p4_mosi_like.pkl", 4, d))
    return out


def dataset_like_files():
    """(file name, protocol, data) for the files that look like MMSA's other datasets (the
    `looks like:` line of `mtfn inspect`, training/run_config.cpp's infer_dataset). Not in
    expected.json: the C++ tests check what the program infers and trains, not the values.

    mosi_like.pkl: MMSA's MOSI unaligned_50.pkl keys (data_loader.py reads text or text_bert,
    audio, vision, raw_text, id, regression_labels, audio_lengths, vision_lengths), MOSI's audio
    and vision widths 5 and 20 (what infer_dataset keys on), a small text width, no unimodal
    labels, labels means of 5 annotators' integer scores (multiples of 0.2 in [-3, 3]) with exact
    zeros and both ends; 40/10/12 samples.
    simsv2_like.pkl: CH-SIMS v2's keys with unimodal labels in [-1, 1] and 2001 training samples
    (infer_dataset tells SIMSv2 from CH-SIMS by the training split: > 2000), so every array is
    as small as it can be to stay under 100 KB: one time step of width 1, uint8 lengths, 2-character
    ids, no text_bert (MMSA reads it only with use_bert, which no model here sets)."""
    rng = np.random.default_rng(20241129)
    out = []

    def mosi_split(n, name):
        text_t, text_d, audio_t, vision_t = 6, 8, 7, 5
        lengths = rng.integers(2, text_t + 1, size=n)
        text = rng.standard_normal((n, text_t, text_d)).astype(np.float32)
        bert = np.zeros((n, 3, text_t), dtype=np.float32)   # token ids, attention mask, segment ids
        for i, k in enumerate(lengths):
            text[i, k:, :] = 0
            bert[i, 0, :k] = rng.integers(100, 30000, size=k)
            bert[i, 1, :k] = 1
        audio = rng.standard_normal((n, audio_t, 5)).astype(np.float32)
        audio[:, -2:, :] = 0
        audio[0, 1, 2] = -np.inf
        vision = rng.standard_normal((n, vision_t, 20)).astype(np.float32)
        vision[:, -1, :] = 0
        labels = rng.integers(-15, 16, size=n) / 5.0   # mean of 5 integer scores in [-3, 3]
        labels[0], labels[1], labels[2] = 0.0, 3.0, -3.0
        labels = labels.astype(np.float32)
        return {
            "raw_text": np.array([f"it was {'good' if x > 0 else 'bad'} {i}" for i, x in enumerate(labels)], dtype=object),
            "audio": audio,
            "vision": vision,
            "id": np.array([f"{name}clip{i // 4}$_${i % 4 + 1}" for i in range(n)], dtype=object),
            "text": text,
            "text_bert": bert,
            "audio_lengths": np.full(n, audio_t - 2, dtype=np.int64),
            "vision_lengths": np.full(n, vision_t - 1, dtype=np.int64),
            "annotations": np.array(["Positive" if x > 0 else "Negative" if x < 0 else "Neutral" for x in labels],
                                    dtype=object),
            "classification_labels": np.where(labels > 0, 2, np.where(labels < 0, 0, 1)).astype(np.float32),
            "regression_labels": labels,
        }
    out.append(("mosi_like.pkl", 4, {n: mosi_split(k, n) for n, k in (("train", 40), ("valid", 10), ("test", 12))}))

    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def simsv2_split(n, offset):
        feats = [rng.standard_normal((n, 1, 1)).astype(np.float32) for _ in range(3)]
        grid = (rng.integers(-5, 6, size=(4, n)) / 5.0).astype(np.float32)   # [-1, 1] on the 0.2 grid
        ids = [alphabet[(offset + i) // 62 % 62] + alphabet[(offset + i) % 62] for i in range(n)]
        split = {
            "raw_text": np.array(["好"] * n),
            "audio": feats[1],
            "vision": feats[2],
            "id": np.array(ids),
            "text": feats[0],
            "audio_lengths": np.ones(n, dtype=np.uint8),
            "vision_lengths": np.ones(n, dtype=np.uint8),
            "regression_labels": grid[0],
        }
        for k, m in enumerate("TAV"):
            split["regression_labels_" + m] = grid[1 + k]
        return split
    out.append(("simsv2_like.pkl", 4, {"train": simsv2_split(2001, 0), "valid": simsv2_split(6, 2001),
                                       "test": simsv2_split(6, 2007)}))
    return out


def rename_numpy_core(data):
    """numpy 2 writes its globals under numpy._core: rewrite the module names, fixing the string
    lengths and the FRAME lengths that contain them."""
    pairs = []
    for mod in (b"numpy.core.multiarray", b"numpy.core.numeric"):
        new = mod.replace(b"numpy.core", b"numpy._core")
        pairs.append((b"\x8c" + bytes([len(mod)]) + mod, b"\x8c" + bytes([len(new)]) + new))  # SHORT_BINUNICODE
        pairs.append((b"c" + mod + b"\n", b"c" + new + b"\n"))                                  # GLOBAL

    def sub(chunk):
        for old, new in pairs:
            chunk = chunk.replace(old, new)
        return chunk

    frames = [(pos, arg) for op, arg, pos in pickletools.genops(data) if op.name == "FRAME"]
    if not frames:
        return sub(data)
    out, cursor = bytearray(), 0
    for pos, length in frames:
        out += sub(data[cursor:pos])
        body = sub(data[pos + 9:pos + 9 + length])
        out += b"\x95" + struct.pack("<Q", len(body)) + body
        cursor = pos + 9 + length
    out += sub(data[cursor:])
    return bytes(out)


def broken_files(good_p4, good_p2):
    """(name, bytes, substring the error must contain)."""
    P2, P4 = b"\x80\x02", b"\x80\x04"
    out = []
    out.append(("empty.pkl", b"", "not a pickle"))
    out.append(("text_file.pkl", b"train,valid,test\n1,2,3\n", "not a pickle of protocol 2-5"))
    out.append(("protocol0.pkl", pickle.dumps({"a": 1}, protocol=0), "not a pickle of protocol 2-5"))
    out.append(("truncated_header.pkl", good_p4[:5], "truncated"))
    out.append(("truncated_middle.pkl", good_p4[:len(good_p4) // 2], "truncated"))
    out.append(("truncated_before_stop.pkl", good_p4[:-1], "truncated"))
    # flip the first opcode after PROTO and FRAME into an unknown one
    flipped = bytearray(good_p4)
    flipped[11] = 0xFF
    out.append(("bitflip_opcode.pkl", bytes(flipped), "unknown opcode 0xff"))
    out.append(("unknown_opcode.pkl", P2 + b"\xfe.", "byte 2: unknown opcode 0xfe"))
    out.append(("lying_binbytes.pkl", P4 + b"B\xff\xff\xff\xff" + b"x" * 10 + b".", "BINBYTES needs 4294967295 bytes"))
    out.append(("lying_binunicode8.pkl", P4 + b"\x8d" + struct.pack("<Q", 1 << 62) + b"abc.", "BINUNICODE8 needs"))
    out.append(("lying_frame.pkl", P4 + b"\x95" + struct.pack("<Q", 1 << 40) + b"N.", "FRAME of 1099511627776 bytes"))
    out.append(("os_system.pkl", P2 + b"cos\nsystem\nX\x02\x00\x00\x00lsR.", "global 'os.system' is not allowed"))
    out.append(("posix_system.pkl", P2 + b"cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.", "global 'posix.system' is not allowed"))
    out.append(("builtins_eval.pkl", P4 + b"\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.", "global 'builtins.eval' is not allowed"))
    out.append(("inst_opcode.pkl", P2 + b"(ios\nsystem\nS'ls'\n.", "opcode INST (0x69) is not allowed"))
    out.append(("persid.pkl", P2 + b"N\x51.", "opcode BINPERSID"))
    out.append(("out_of_band.pkl", b"\x80\x05\x97.", "out-of-band buffer"))
    out.append(("setitem_on_list.pkl", P2 + b"]K\x01K\x02s.", "SETITEM applied to a list (expected a dict)"))
    out.append(("append_on_dict.pkl", P2 + b"}K\x01a.", "APPEND applied to a dict (expected a list)"))
    out.append(("appends_on_int.pkl", P2 + b"K\x05(K\x01e.", "APPENDS applied to an int (expected a list)"))
    out.append(("build_on_int.pkl", P2 + b"K\x01}b.", "BUILD applied to an int"))
    out.append(("stack_underflow.pkl", P2 + b"a.", "byte 2: APPEND on an empty stack"))
    out.append(("tuple_without_mark.pkl", P2 + b"K\x01t.", "TUPLE without a MARK"))
    out.append(("stop_empty.pkl", P2 + b".", "STOP with an empty stack"))
    out.append(("memo_missing.pkl", P2 + b"h\x07.", "memo key 7 was never stored"))
    out.append(("deep_lists.pkl", P2 + b"]" * 1500 + b"a" * 1499 + b".", "nesting deeper than 1000 levels"))
    out.append(("deep_marks.pkl", P2 + b"(" * 1500 + b".", "more than 1000 nested MARKs"))
    out.append(("long_too_big.pkl", P2 + b"\x8a\x09" + b"\x01" * 9 + b".", "does not fit 64 bits"))

    def array_pickle(shape, dtype, data, proto=2):
        hdr = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
               b"(K\x01" + b"(" + b"".join(b"\x8a\x08" + struct.pack("<q", d) for d in shape) + b"t"
               b"cnumpy\ndtype\nX" + struct.pack("<I", len(dtype)) + dtype + b"\x89\x88\x87R"
               b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
               b"\x89C" + bytes([len(data)]) + data + b"tb.")
        return bytes([0x80, proto]) + hdr
    out.append(("huge_shape_overflow.pkl", array_pickle((1 << 40, 1 << 40, 1 << 40), b"f8", b"\x00" * 8),
                "more elements than fit 64 bits"))
    out.append(("huge_shape_100gb.pkl", array_pickle((100000, 100000, 1000), b"f8", b"\x00" * 8),
                "needs 80000000000000 bytes, the data has 8"))
    out.append(("shape_bytes_disagree.pkl", array_pickle((3, 2), b"f4", b"\x00" * 20),
                "needs 24 bytes, the data has 20"))
    out.append(("negative_dim.pkl", array_pickle((-1, 2), b"f4", b"\x00" * 8), "negative dimension -1"))
    out.append(("bad_dtype.pkl", array_pickle((1,), b"c16", b"\x00" * 16), "numpy dtype 'c16' is not supported"))

    # valid pickles with a wrong MMSA layout
    def layout(name, data, msg):
        out.append((name, pickle.dumps(data, protocol=4), msg))
    rng = np.random.default_rng(7)
    base = lambda: {n: make_split(rng, n, k) for n, k in SPLITS.items()}
    layout("layout_top_list.pkl", [1, 2, 3], "top level is a list (expected a dict with train, valid, test)")
    d = base(); del d["valid"]
    layout("layout_missing_split.pkl", d, "missing split 'valid'")
    d = base(); del d["test"]["vision"]
    layout("layout_missing_vision.pkl", d, "layout_missing_vision.pkl: test: missing key 'vision'")
    d = base(); d["train"]["audio"] = d["train"]["audio"].mean(axis=1)
    layout("layout_audio_rank2.pkl", d, "layout_audio_rank2.pkl: train/audio: expected 3 dims, got 2 (3, 3)")
    d = base(); d["valid"]["audio"] = np.zeros((2, AUDIO_T, AUDIO_D + 1))
    layout("layout_feature_size.pkl", d, "valid/audio: feature size 4, but train/audio has 3")
    d = base(); d["train"]["vision"] = d["train"]["vision"][:2]
    layout("layout_sample_count.pkl", d, "train/vision: 2 samples, but train/regression_labels has 3")
    d = base(); d["valid"]["text"] = np.array(["a", "b"])
    layout("layout_text_strings.pkl", d, "valid/text: dtype <U1 is not a number type")
    d = base(); del d["test"]["regression_labels_A"]
    layout("layout_partial_unimodal.pkl", d, "test: missing key 'regression_labels_A', which other splits have")
    d = base(); d["train"]["regression_labels"] = ["x", "y", "z"]
    layout("layout_label_strings.pkl", d, "train/regression_labels: element 0 is a str (expected a number)")
    d = base(); d["train"]["id"] = np.array([1, 2, 3])
    layout("layout_id_numbers.pkl", d, "train/id: dtype int64 is not a string type")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "pickle"))
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "broken"), exist_ok=True)

    expected = {}
    blobs = {}
    for name, proto, data in variants():
        blob = pickle.dumps(data, protocol=proto)
        assert pickle.loads(blob).keys() == data.keys()
        blobs[name] = blob
        expected[name] = mmsa_expected(data)
        # numpy 2 style globals for the protocol 2 and 5 files (numpy 1.24 cannot load these; the
        # values are those of the original)
        if proto in (2, 5):
            renamed = rename_numpy_core(blob)
            assert b"numpy._core" in renamed and b"numpy.core" not in renamed
            list(pickletools.genops(renamed))  # still a well-formed pickle
            new_name = name.replace(".pkl", "_numpy2.pkl")
            blobs[new_name] = renamed
            expected[new_name] = expected[name]
    for name, blob in blobs.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(blob)
    with open(os.path.join(args.out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=0)

    for name, proto, data in dataset_like_files():
        blob = pickle.dumps(data, protocol=proto)
        assert len(blob) < 100 * 1024, (name, len(blob))
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(blob)

    broken = broken_files(blobs["p4_fortran_bigendian.pkl"], blobs["p2_float32_unicode.pkl"])
    with open(os.path.join(args.out, "broken", "expected.json"), "w", encoding="utf-8") as f:
        json.dump({name: msg for name, _, msg in broken}, f, ensure_ascii=False, indent=0)
    for name, blob, _ in broken:
        with open(os.path.join(args.out, "broken", name), "wb") as f:
            f.write(blob)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print(f"wrote {len(blobs)} fixtures and {len(broken)} broken files to {args.out} ({total / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
