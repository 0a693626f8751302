//! Layer truncation: keep the embeddings and the first k transformer layers (the tensors of the
//! later layers are dropped), keep every other tensor (pooler, heads), and set the layer count in
//! config.json (`num_hidden_layers`, DistilBERT `n_layers`).

use super::checkpoint::Checkpoint;
use super::ZooError;
use crate::encoder::config::Arch;

/// Keep the first `k` layers of `ck` (1 <= k <= the layer count).
pub fn truncate(ck: &mut Checkpoint, k: usize) -> Result<(), ZooError> {
    let l = ck.config.num_layers;
    if k == 0 || k > l {
        return Err(ZooError::option(
            "--truncate",
            format!("{k} layers: must be between 1 and the checkpoint's {l} layers"),
        ));
    }
    let (stem, key) = match ck.config.arch {
        Arch::DistilBert => ("transformer.layer.", "n_layers"),
        _ => ("encoder.layer.", "num_hidden_layers"),
    };
    let stem = format!("{}{stem}", ck.prefix);
    ck.tensors.retain(|t| {
        t.name
            .strip_prefix(&stem)
            .and_then(|r| r.split('.').next())
            .and_then(|i| i.parse::<usize>().ok())
            .is_none_or(|i| i < k)
    });
    ck.config.num_layers = k;
    ck.config_json[key] = serde_json::json!(k);
    Ok(())
}
