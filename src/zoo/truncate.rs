//! Layer truncation: keep the embeddings and the first k layer applications, keep every other
//! tensor (pooler, heads), and set the layer count in config.json (`num_hidden_layers`,
//! DistilBERT `n_layers`, XLNet `n_layer`). ModernBERT's `layer_types` is cut to its first k
//! entries, so that layer i keeps its local/global kind (transformers reads `layer_types`
//! first; without it the kinds come from `global_attn_every_n_layers`, which a prefix keeps);
//! its `final_norm` stays, so the truncated model's last hidden state is the normalised output
//! of layer k, as transformers computes it for that checkpoint.
//!
//! For every architecture but ALBERT the tensors of layers k and beyond are dropped. ALBERT
//! stores `num_hidden_groups` shared groups, application i of L running group
//! `i / (L / num_hidden_groups)`; truncating to k applications keeps the groups those use and
//! sets `num_hidden_layers = k`, `num_hidden_groups = ceil(k / (L / G))`. transformers' rule
//! (group of application i = `i / (k / G')`) then runs the same groups only when `k` is at most
//! `L / G` or a multiple of it; other k are refused (with G = 1, as in the released ALBERT
//! checkpoints, every k works).

use super::checkpoint::{Checkpoint, ModelKind};
use super::ZooError;
use crate::encoder::config::Arch;
use crate::encoder::family::Family;

/// Keep the first `k` layers of `ck` (1 <= k <= the layer count).
pub fn truncate(ck: &mut Checkpoint, k: usize) -> Result<(), ZooError> {
    let l = ck.num_layers;
    if k == 0 || k > l {
        return Err(ZooError::option(
            "--truncate",
            format!("{k} layers: must be between 1 and the checkpoint's {l} layers"),
        ));
    }
    if matches!(ck.kind, ModelKind::Family(Family::Albert)) {
        return truncate_albert(ck, k);
    }
    let (stem, key) = match &ck.kind {
        ModelKind::Classic(c) if c.arch == Arch::DistilBert => ("transformer.layer.", "n_layers"),
        ModelKind::Family(Family::Xlnet) => ("layer.", "n_layer"),
        ModelKind::Family(Family::ModernBert) => ("layers.", "num_hidden_layers"),
        _ => ("encoder.layer.", "num_hidden_layers"),
    };
    // ModernBERT: layer i keeps its local/global kind. transformers' config takes `layer_types`
    // when present (else derives it from `global_attn_every_n_layers`, which a prefix of the
    // layers keeps as it is): the first k entries are kept.
    if let Some(types) = ck
        .config_json
        .get_mut("layer_types")
        .and_then(|v| v.as_array_mut())
    {
        types.truncate(k);
    }
    let stem = format!("{}{stem}", ck.prefix);
    keep_below(ck, &stem, k);
    ck.num_layers = k;
    if let ModelKind::Classic(c) = &mut ck.kind {
        c.num_layers = k;
    }
    ck.config_json[key] = serde_json::json!(k);
    Ok(())
}

/// Drop the tensors named `<stem><i>.…` with `i >= k`.
fn keep_below(ck: &mut Checkpoint, stem: &str, k: usize) {
    ck.tensors.retain(|t| {
        t.name
            .strip_prefix(stem)
            .and_then(|r| r.split('.').next())
            .and_then(|i| i.parse::<usize>().ok())
            .is_none_or(|i| i < k)
    });
}

fn truncate_albert(ck: &mut Checkpoint, k: usize) -> Result<(), ZooError> {
    let l = ck.num_layers;
    let groups = ck
        .config_json
        .get("num_hidden_groups")
        .and_then(|v| v.as_u64())
        .unwrap_or(1) as usize;
    let per = l / groups.max(1);
    if k > per && !k.is_multiple_of(per) {
        return Err(ZooError::option(
            "--truncate",
            format!(
                "{k} layers: this ALBERT shares each of its {groups} layer groups over {per} consecutive layers, so a truncation must keep at most {per} layers or a multiple of {per}"
            ),
        ));
    }
    let kept = k.div_ceil(per);
    let stem = format!("{}encoder.albert_layer_groups.", ck.prefix);
    keep_below(ck, &stem, kept);
    ck.num_layers = k;
    ck.config_json["num_hidden_layers"] = serde_json::json!(k);
    ck.config_json["num_hidden_groups"] = serde_json::json!(kept);
    Ok(())
}
