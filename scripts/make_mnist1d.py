"""Generate the MNIST-1D dataset (Greydanus 2020) with the pinned `mnist1d` package.

Writes an uncompressed .npz whose bytes depend only on the data: every zip entry gets a fixed
timestamp, so the file's sha256 can be pinned in the catalog (src/data/catalog.rs).

With `--shuffle-seq`, the package's own `shuffle_seq` option: one fixed permutation of the 40
time steps, drawn by the package's numpy generator right after its example shuffle (seed 42), applied
to every train and test example; examples, labels and split are the unshuffled set's. This is the
"MNIST-1D (shuffle)" row of the README table (the spatial shuffle of Zhang et al. 2017).

Usage: python scripts/make_mnist1d.py [--shuffle-seq] OUT.npz
"""
import io
import sys
import zipfile

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset


def write_npz(path, arrays):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def main():
    argv = sys.argv[1:]
    shuffle_seq = "--shuffle-seq" in argv
    argv = [a for a in argv if a != "--shuffle-seq"]
    if len(argv) != 1:
        sys.exit("usage: make_mnist1d.py [--shuffle-seq] OUT.npz")
    out = argv[0]
    args = get_dataset_args()
    args.seed = 42
    args.shuffle_seq = shuffle_seq
    data = make_dataset(args)
    arrays = {
        "x": data["x"].astype(np.float32),
        "y": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int64),
    }
    write_npz(out, arrays)
    print(
        f"mnist1d{' (shuffled sequence)' if shuffle_seq else ''}: train {arrays['x'].shape} test {arrays['x_test'].shape} "
        f"classes {len(np.unique(arrays['y']))} -> {out}"
    )


if __name__ == "__main__":
    main()
