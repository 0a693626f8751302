//! BERT's masked-language-model input corruption, as Hugging Face's
//! `DataCollatorForLanguageModeling`: every real, non-special token is selected with probability
//! `mask_prob`; a selected token becomes the mask token with probability 0.8, a token drawn
//! uniformly from the vocabulary with probability 0.1, and stays unchanged otherwise. The loss is
//! computed at the selected positions only (label -100 elsewhere in Hugging Face's terms).
//!
//! One deviation: a batch in which no token was selected (possible for tiny batches) gets one
//! selected position drawn uniformly among its maskable tokens, so every step has a loss
//! (Hugging Face would produce a NaN loss for such a batch).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What the masking needs to know about the vocabulary.
#[derive(Debug, Clone)]
pub struct MaskingSettings {
    /// Probability that a token is selected (0.15 in BERT).
    pub mask_prob: f64,
    /// The mask token's id (`[MASK]`, `<mask>`).
    pub mask_id: u32,
    /// Random replacements are drawn from `0..random_vocab`.
    pub random_vocab: u32,
    /// Ids that are never selected (the tokenizer's added special tokens), sorted.
    pub special: Vec<u32>,
    /// The padding id written past each row's length.
    pub pad_id: u32,
}

/// A padded, masked batch, reused across steps (no per-step reallocation once warm).
#[derive(Debug, Clone, Default)]
pub struct MaskedBatch {
    /// Input ids after masking, row-major [rows, seq].
    pub ids: Vec<u32>,
    /// Real tokens per row.
    pub lengths: Vec<usize>,
    /// Padded length.
    pub seq: usize,
    /// Flat indices (row * seq + position) of the selected positions, increasing.
    pub positions: Vec<u32>,
    /// The original token at each selected position (the labels).
    pub labels: Vec<u32>,
}

impl MaskingSettings {
    fn maskable(&self, id: u32) -> bool {
        self.special.binary_search(&id).is_err()
    }

    fn corrupt(&self, id: u32, rng: &mut ChaCha8Rng) -> u32 {
        if rng.gen::<f64>() < 0.8 {
            self.mask_id
        } else if rng.gen::<f64>() < 0.5 {
            rng.gen_range(0..self.random_vocab)
        } else {
            id
        }
    }

    /// Pad `rows` into `out` and mask them (see the module documentation).
    pub fn mask_into(&self, rows: &[&[u32]], rng: &mut ChaCha8Rng, out: &mut MaskedBatch) {
        let seq = rows.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
        out.seq = seq;
        out.ids.clear();
        out.ids.resize(rows.len() * seq, self.pad_id);
        out.lengths.clear();
        out.positions.clear();
        out.labels.clear();
        for (r, row) in rows.iter().enumerate() {
            out.lengths.push(row.len());
            let base = r * seq;
            out.ids[base..base + row.len()].copy_from_slice(row);
            for (t, &id) in row.iter().enumerate() {
                if self.maskable(id) && rng.gen::<f64>() < self.mask_prob {
                    out.positions.push((base + t) as u32);
                    out.labels.push(id);
                    out.ids[base + t] = self.corrupt(id, rng);
                }
            }
        }
        if out.positions.is_empty() {
            let cands: Vec<usize> = rows
                .iter()
                .enumerate()
                .flat_map(|(r, row)| {
                    row.iter()
                        .enumerate()
                        .filter(|(_, &id)| self.maskable(id))
                        .map(move |(t, _)| r * seq + t)
                })
                .collect();
            if !cands.is_empty() {
                let p = cands[rng.gen_range(0..cands.len())];
                let id = out.ids[p];
                out.positions.push(p as u32);
                out.labels.push(id);
                out.ids[p] = self.corrupt(id, rng);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn masking_rates_match_bert_in_closed_form() {
        // 200k maskable tokens: selected ~ Binomial(n, 0.15); of those, [MASK] 80%, random
        // 10% (of which 1/vocab land on the original id again), unchanged 10%.
        let spec = MaskingSettings {
            mask_prob: 0.15,
            mask_id: 3,
            random_vocab: 50,
            special: vec![1, 2],
            pad_id: 0,
        };
        let row: Vec<u32> = std::iter::once(1)
            .chain((0..998).map(|i| 10 + (i % 40) as u32))
            .chain(std::iter::once(2))
            .collect();
        let rows: Vec<&[u32]> = vec![&row; 200];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut b = MaskedBatch::default();
        spec.mask_into(&rows, &mut rng, &mut b);
        let n: f64 = 200.0 * 998.0;
        let sel = b.positions.len() as f64;
        let sd = (n * 0.15 * 0.85).sqrt();
        assert!((sel - 0.15 * n).abs() < 4.0 * sd, "{sel} selected of {n}");
        let masked = b
            .positions
            .iter()
            .filter(|&&p| b.ids[p as usize] == 3)
            .count() as f64;
        let same = b
            .positions
            .iter()
            .zip(&b.labels)
            .filter(|(&p, &l)| b.ids[p as usize] == l)
            .count() as f64;
        let p_same = 0.1 + 0.1 / 50.0;
        assert!((masked / sel - 0.8).abs() < 4.0 * (0.16 / sel).sqrt());
        assert!((same / sel - p_same).abs() < 4.0 * (p_same * (1.0 - p_same) / sel).sqrt());
        // Special tokens are never selected, and unselected tokens are untouched.
        for (r, _) in rows.iter().enumerate() {
            assert_eq!(b.ids[r * 1000], 1);
            assert_eq!(b.ids[r * 1000 + 999], 2);
        }
        let selected: std::collections::HashSet<u32> = b.positions.iter().copied().collect();
        for (i, &id) in b.ids.iter().enumerate() {
            if !selected.contains(&(i as u32)) {
                assert_eq!(id, row[i % 1000]);
            }
        }
    }

    #[test]
    fn a_batch_always_has_one_selected_position_and_padding() {
        let spec = MaskingSettings {
            mask_prob: 1e-9,
            mask_id: 3,
            random_vocab: 50,
            special: vec![1, 2],
            pad_id: 0,
        };
        let (a, c) = (vec![1u32, 20, 21, 2], vec![1u32, 22, 2]);
        let rows: Vec<&[u32]> = vec![&a, &c];
        let mut b = MaskedBatch::default();
        spec.mask_into(&rows, &mut ChaCha8Rng::seed_from_u64(1), &mut b);
        assert_eq!(b.positions.len(), 1);
        assert!([1u32, 2, 5].contains(&b.positions[0]));
        assert_eq!((b.seq, b.lengths.clone(), b.ids[7]), (4, vec![4, 3], 0));
    }
}
