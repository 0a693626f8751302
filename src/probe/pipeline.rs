//! One checkpoint over a probing suite, with the embedding of task k+1 overlapped with the
//! probing of task k.
//!
//! The tasks are embedded one after the other (each embedding runs its batches in parallel);
//! as soon as a task's features are there, its probing is spawned onto the same rayon pool and
//! the next task's embedding starts. Both kinds of work are split into units that run on one
//! thread each (a batch of sentences, a (layer, seed) probe), so the two cores stay busy across
//! the phase boundaries (model loading, tokenisation, cache writes, the last units of a task)
//! and every number is the same as when the phases run one after the other.

use super::protocol::{probe_task, ProbeSettings, Record, TaskData};
use super::MatRef;
use crate::data::senteval::Dataset;
use crate::encoder::EncoderError;
use crate::features::{EmbedSettings, Embedder};
use std::path::PathBuf;
use std::sync::Mutex;

/// Why [`embed_and_probe`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The checkpoint could not be resolved, loaded or run: the caller may go on with other
    /// checkpoints.
    #[error("{0}")]
    Model(#[from] EncoderError),
    /// Bad settings or data (a `--layers` index out of range, a protocol error): stop.
    #[error("{0}")]
    Fatal(String),
}

/// What one checkpoint gave.
#[derive(Debug, Clone)]
pub struct ModelRun {
    /// Short name of the checkpoint (directory name or model id).
    pub name: String,
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Content hash of the checkpoint's files.
    pub hash: String,
    /// Records of every task, in task order (per task as [`probe_task`] returns them, with
    /// hidden-state indices as layers).
    pub records: Vec<Record>,
    /// Seconds spent in the embedding calls (cache reads included); they overlap the probing
    /// of the previous task, so embedding and probing seconds do not add up to the total.
    pub embed_seconds: f64,
}

/// Embed every dataset with checkpoint `spec` (through the feature cache of `embed`) and probe
/// the hidden states `layers` (all when `None`) of every pooling with settings `s`.
/// `datasets[i]` and `tasks[i]` are the same task. Progress bars are added to `bars`.
pub fn embed_and_probe(
    spec: &str,
    datasets: &[Dataset],
    tasks: &[TaskData],
    embed: &EmbedSettings,
    layers: Option<&[usize]>,
    s: &ProbeSettings,
    bars: &indicatif::MultiProgress,
) -> Result<ModelRun, PipelineError> {
    assert_eq!(datasets.len(), tasks.len());
    let embedder = Embedder::new(spec, embed)?;
    type Slot = Mutex<Option<Result<Vec<Record>, String>>>;
    let slots: Vec<Slot> = tasks.iter().map(|_| Mutex::new(None)).collect();
    let mut stop: Option<PipelineError> = None;
    let store_failed: Mutex<Option<EncoderError>> = Mutex::new(None);
    let mut embed_seconds = 0.0;
    let mut meta: Option<(String, PathBuf, String)> = None;
    rayon::scope(|sc| {
        for ((d, t), slot) in datasets.iter().zip(tasks).zip(&slots) {
            let te = std::time::Instant::now();
            let pb = bars.add(indicatif::ProgressBar::new(0));
            let (out, computed) = match embedder.embed_uncached(d, &pb) {
                Ok(o) => o,
                Err(e) => {
                    stop = Some(PipelineError::Model(e));
                    return;
                }
            };
            // Non-finite features (a checkpoint that overflows in the forward pass, a damaged
            // cache entry) would probe at chance without a word: refuse the model, naming it.
            if let Some((p, k)) = out.features.iter().find_map(|(p, f)| {
                f.layers
                    .iter()
                    .position(|l| l.iter().any(|x| !x.is_finite()))
                    .map(|k| (*p, k))
            }) {
                stop = Some(PipelineError::Model(EncoderError::input(
                    &out.model_dir,
                    format!(
                        "the {p} features of hidden state {k} on {} hold NaN or infinite values; refusing to probe them",
                        d.path.display()
                    ),
                )));
                return;
            }
            // The cache write runs beside the probing and the next embedding.
            let out = std::sync::Arc::new(out);
            let (o2, emb, sf) = (out.clone(), &embedder, &store_failed);
            sc.spawn(move |_| {
                if let Err(e) = emb.store(&o2, &computed) {
                    sf.lock().expect("store").get_or_insert(e);
                }
            });
            embed_seconds += te.elapsed().as_secs_f64();
            bars.remove(&pb);
            meta.get_or_insert_with(|| {
                (
                    out.model_name.clone(),
                    out.model_dir.clone(),
                    out.model_hash.clone(),
                )
            });
            let nl = out.features.values().next().map_or(0, |f| f.layers.len());
            let ls: Vec<usize> = match layers {
                Some(ls) => {
                    if let Some(bad) = ls.iter().find(|&&l| l >= nl) {
                        stop = Some(PipelineError::Fatal(format!(
                            "--layers: {spec} has hidden states 0..={}, not {bad}",
                            nl.saturating_sub(1)
                        )));
                        return;
                    }
                    ls.to_vec()
                }
                None => (0..nl).collect(),
            };
            let (name, bars) = (out.model_name.clone(), &bars);
            sc.spawn(move |_| {
                let mut recs = Vec::new();
                let mut result = Ok(());
                for (pool, f) in &out.features {
                    let mats: Vec<MatRef> = ls
                        .iter()
                        .map(|&l| MatRef::new(&f.layers[l], f.n, f.dim))
                        .collect();
                    let bar = bars.add(
                        indicatif::ProgressBar::new((ls.len() * s.seeds) as u64)
                            .with_message(format!("probing {name} {} {pool}", t.name)),
                    );
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} [{bar:30}] {pos}/{len} {elapsed}",
                        )
                        .expect("template"),
                    );
                    let r = probe_task(t, &mats, pool.name(), s, &|| bar.inc(1));
                    bar.finish_and_clear();
                    bars.remove(&bar);
                    match r {
                        Ok(rs) => recs.extend(rs.into_iter().map(|mut r| {
                            r.layer = ls[r.layer];
                            r
                        })),
                        Err(e) => {
                            result = Err(e.to_string());
                            break;
                        }
                    }
                }
                *slot.lock().expect("slot") = Some(result.map(|()| recs));
            });
        }
    });
    if let Some(e) = stop {
        return Err(e);
    }
    if let Some(e) = store_failed.into_inner().expect("store") {
        return Err(PipelineError::Model(e));
    }
    let mut records = Vec::new();
    for slot in slots {
        match slot.into_inner().expect("slot") {
            Some(Ok(r)) => records.extend(r),
            Some(Err(e)) => return Err(PipelineError::Fatal(e)),
            None => {}
        }
    }
    let (name, dir, hash) = meta.unwrap_or_else(|| {
        (
            crate::encoder::extract::model_name(spec),
            embedder.dir().to_path_buf(),
            embedder.hash().to_string(),
        )
    });
    Ok(ModelRun {
        name,
        dir,
        hash,
        records,
        embed_seconds,
    })
}
