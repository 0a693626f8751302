//! The seed paper's corruption: continued masked-LM training on the corpus with the words of
//! every line shuffled (Zhu et al. 2022, after Sinha et al. 2021).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Shuffle the whitespace-separated words of every line (seeded; one stream over all lines).
/// Blank lines stay blank.
pub fn shuffle_words(lines: &[String], seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    lines
        .iter()
        .map(|l| {
            let mut w: Vec<&str> = l.split_whitespace().collect();
            w.shuffle(&mut rng);
            w.join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_keeps_each_lines_words_and_is_seeded() {
        let lines = vec!["the cat sat on the mat today".to_string(), "  ".to_string()];
        let a = shuffle_words(&lines, 3);
        let mut x: Vec<&str> = a[0].split(' ').collect();
        let mut y: Vec<&str> = lines[0].split(' ').collect();
        x.sort();
        y.sort();
        assert_eq!(x, y);
        assert_eq!(a[1], "");
        assert_eq!(a, shuffle_words(&lines, 3));
        assert_ne!(a[0], lines[0]);
    }
}
