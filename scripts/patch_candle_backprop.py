#!/usr/bin/env python3
"""Re-create vendor/candle-core from the crates.io source of candle-core 0.11.1 with probecast's
one patch (see vendor/candle-core/PROBECAST.md).

    python3 scripts/patch_candle_backprop.py [REGISTRY_CRATE_DIR]

REGISTRY_CRATE_DIR defaults to ~/.cargo/registry/src/*/candle-core-0.11.1 (run `cargo fetch`
with the upstream crate first).
"""
import glob
import os
import re
import shutil
import sys

ACCUMULATE = '''    /// Add `grad` to the gradient of `tensor`. probecast patch: the first gradient is stored as
    /// is instead of being added to a new zero tensor (upstream: `or_insert` + `add`), which
    /// saves a memset and an addition per op input in every backward pass (and the allocation
    /// too when the gradient is already contiguous).
    fn accumulate(&mut self, tensor: &Tensor, grad: &Tensor) -> Result<()> {
        match self.0.entry(tensor.id()) {
            Entry::Occupied(mut entry) => {
                let sum = entry.get().add(grad)?;
                entry.insert(sum);
            }
            Entry::Vacant(entry) => {
                // Contiguous like upstream's sum: some backward ops (scatter) need it.
                entry.insert(grad.contiguous()?);
            }
        }
        Ok(())
    }

'''


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else sorted(
        glob.glob(os.path.expanduser("~/.cargo/registry/src/*/candle-core-0.11.1")))[-1]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vendor", "candle-core")
    keep = os.path.join(root, "PROBECAST.md")
    note = open(keep).read() if os.path.exists(keep) else None
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(os.path.join(src, "src"), os.path.join(root, "src"))
    for f in ("LICENSE", "LICENSE-MIT", "LICENSE-APACHE", "README.md"):
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), root)
    toml = open(os.path.join(src, "Cargo.toml")).read()
    toml = re.sub(r"\n\[\[(example|test|bench)\]\]\n(?:[^\[\n][^\n]*\n?)*", "\n", toml)
    toml = re.sub(r"\[dev-dependencies\.[^\]]+\]\n(?:[^\[\n][^\n]*\n)*\n?", "", toml)
    toml = re.sub(r"\n{3,}", "\n\n", toml)
    open(os.path.join(root, "Cargo.toml"), "w").write(toml)
    p = os.path.join(root, "src", "backprop.rs")
    s = open(p).read()
    pat = re.compile(r"let (\w+) = grads\.or_insert\(([^;]*?)\)\?;\s*\*\1 = \1\.add\(&(\w+)\)\?(;?)")
    s, n = pat.subn(lambda m: f"grads.accumulate({m.group(2)}, &{m.group(3)})?{m.group(4)}", s)
    anchor = "    fn or_insert(&mut self, tensor: &Tensor) -> Result<&mut Tensor> {"
    assert anchor in s and n > 30, f"unexpected upstream source ({n} sites)"
    s = s.replace(anchor, ACCUMULATE + anchor)
    open(p, "w").write(s)
    if note:
        open(keep, "w").write(note)
    print(f"vendor/candle-core: {n} gradient accumulations patched")


if __name__ == "__main__":
    main()
