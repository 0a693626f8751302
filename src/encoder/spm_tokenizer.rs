//! A `tokenizers` pipeline from a SentencePiece model, for checkpoint directories that ship
//! `spiece.model` (ALBERT, XLNet) or `spm.model` (DeBERTa-v2/v3) and no tokenizer.json: the
//! conversion transformers does in Python (`convert_slow_tokenizer.py`: `AlbertConverter`,
//! `XLNetConverter`, `DebertaV2Converter`), done in Rust from the model file read by [`super::spm`].
//!
//! Per architecture (options from tokenizer_config.json, defaults as transformers'):
//!
//! | | ALBERT | XLNet | DeBERTa-v2/v3 |
//! |---|---|---|---|
//! | normaliser | ``` `` ```/`''` → `"`, NFKD + strip accents (unless `keep_accents`), lower-case (`do_lower_case`, default on), precompiled charsmap | as ALBERT, `do_lower_case` default off | lower-case (`do_lower_case`, default off), precompiled charsmap, leading / trailing spaces removed, ` {2,}` → ` ` |
//! | pre-tokenizer | split on white space (the slow tokenizer's `" ".join(text.split())`), Metaspace `▁`, always prepend | as ALBERT | with `split_by_punct`: punctuation isolated, split on spaces; Metaspace |
//! | template | `[CLS] A [SEP] (B [SEP])`, type ids 0 / 1 | `A <sep> (B <sep>) <cls>`, type ids 0 / 1, 2 for `<cls>`; pads on the left | `[CLS] A [SEP] (B [SEP])`, type ids 0 / 1 |
//!
//! For unigram models this is the pipeline transformers 5 builds (and its ids equal the slow
//! tokenizers'). The model is the proto's: a Unigram model over the pieces and scores (ALBERT
//! and XLNet lower pieces that end in a digit and a comma by 100, which is how the converters
//! reproduce the slow tokenizers' re-splitting of `1,` into `1` `,`), or a BPE model whose
//! merges are every split of a normal piece into two pieces of the vocabulary, ranked by the
//! merged piece's score (highest first) as SentencePiece's BPE merges them. (transformers 5
//! turns a BPE SentencePiece model into a Unigram one and then disagrees with the slow
//! tokenizer on most sentences; probecast follows the slow tokenizer. The ALBERT / XLNet
//! re-splitting of a BPE piece ending in a digit and a comma is not reproduced: no piece of the
//! test models ends so.) Control pieces (`[CLS]`, `<sep>`...) become special
//! added tokens, user-defined pieces plain added tokens, like the converters do; a special token
//! the tokenizer needs but the model lacks (DeBERTa-v3's `[MASK]`) is added after the vocabulary,
//! as transformers adds it.
//!
//! Checked against the slow (sentencepiece) tokenizers on 224 sentences and 60 pairs, for
//! each architecture and for DeBERTa-v2 with `split_by_punct`
//! (tests/spm_tokenizer.rs, fixtures by bench/python/make_spm_fixtures.py).

use super::spm::{ModelType, PieceType, SpmModel};
use super::EncoderError;
use serde_json::Value;
use std::path::Path;
use tokenizers::models::bpe::BPE;
use tokenizers::models::unigram::Unigram;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{
    Lowercase, NormalizerWrapper, Precompiled, Replace, Sequence, StripAccents, NFKD,
};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::Split;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// The SentencePiece model file names, in the order they are looked for.
pub const SPM_FILES: [&str; 2] = ["spm.model", "spiece.model"];

/// The architectures whose SentencePiece tokenizers are built, for messages.
pub const SPM_SUPPORTED: &str = "albert, xlnet, deberta-v2";

/// Which converter a SentencePiece directory gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpmFlavor {
    /// ALBERT (`AlbertConverter`).
    Albert,
    /// XLNet (`XLNetConverter`).
    Xlnet,
    /// DeBERTa-v2 and v3 (`DebertaV2Converter`).
    DebertaV2,
}

/// The tokenizer_config.json options the converters read, with each architecture's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SpmOptions {
    /// Lower-case the text.
    pub do_lower_case: bool,
    /// Keep accents (ALBERT, XLNet; off: NFKD and strip accents).
    pub keep_accents: bool,
    /// Split punctuation into its own pieces (DeBERTa-v2).
    pub split_by_punct: bool,
    /// The classifier token.
    pub cls_token: String,
    /// The separator token.
    pub sep_token: String,
    /// The mask token (added after the vocabulary when the model lacks it).
    pub mask_token: String,
}

/// A token option of tokenizer_config.json: a string or an `AddedToken` object with `content`.
fn token_opt(cfg: &Value, key: &str, default: &str) -> String {
    match cfg.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string(),
        _ => default.to_string(),
    }
}

impl SpmOptions {
    /// The options of `flavor` from a parsed tokenizer_config.json (`Value::Null` when absent).
    pub fn from_config(flavor: SpmFlavor, cfg: &Value) -> Self {
        let flag = |k: &str, d: bool| cfg.get(k).and_then(Value::as_bool).unwrap_or(d);
        let (lower, cls, sep, mask) = match flavor {
            SpmFlavor::Albert => (true, "[CLS]", "[SEP]", "[MASK]"),
            SpmFlavor::Xlnet => (false, "<cls>", "<sep>", "<mask>"),
            SpmFlavor::DebertaV2 => (false, "[CLS]", "[SEP]", "[MASK]"),
        };
        SpmOptions {
            do_lower_case: flag("do_lower_case", lower),
            keep_accents: flag("keep_accents", false),
            split_by_punct: flag("split_by_punct", false),
            cls_token: token_opt(cfg, "cls_token", cls),
            sep_token: token_opt(cfg, "sep_token", sep),
            mask_token: token_opt(cfg, "mask_token", mask),
        }
    }
}

fn read_json(path: &Path) -> Result<Value, EncoderError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| EncoderError::input(path, format!("invalid JSON: {e}"))),
        Err(_) => Ok(Value::Null),
    }
}

/// The converter for a checkpoint directory: config.json's `model_type`, else
/// tokenizer_config.json's `tokenizer_class`, else `spm.model` means DeBERTa-v2.
pub fn flavor_of(dir: &Path, model_file: &Path) -> Result<SpmFlavor, EncoderError> {
    let mt = read_json(&dir.join("config.json"))?
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let class = read_json(&dir.join("tokenizer_config.json"))?
        .get("tokenizer_class")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let named = model_file.file_name().and_then(|n| n.to_str()) == Some("spm.model");
    match mt.as_str() {
        "albert" => Ok(SpmFlavor::Albert),
        "xlnet" => Ok(SpmFlavor::Xlnet),
        "deberta-v2" => Ok(SpmFlavor::DebertaV2),
        _ if class.starts_with("albert") => Ok(SpmFlavor::Albert),
        _ if class.starts_with("xlnet") => Ok(SpmFlavor::Xlnet),
        _ if class.starts_with("debertav2") => Ok(SpmFlavor::DebertaV2),
        "" if named => Ok(SpmFlavor::DebertaV2),
        _ => Err(EncoderError::input(
            model_file,
            format!(
                "no tokenizer.json, and the SentencePiece conversion of model_type '{mt}' is not known (known: {SPM_SUPPORTED})"
            ),
        )),
    }
}

/// Whether a piece keeps its score under the ALBERT / XLNet converters
/// (`check_number_comma`: not a digit followed by a final comma).
fn keeps_score(piece: &str) -> bool {
    let c: Vec<char> = piece.chars().collect();
    c.len() < 2 || c[c.len() - 1] != ',' || !c[c.len() - 2].is_numeric()
}

fn model(spm: &SpmModel, flavor: SpmFlavor) -> Result<ModelWrapper, String> {
    match spm.model_type {
        ModelType::Unigram => {
            let lower = matches!(flavor, SpmFlavor::Albert | SpmFlavor::Xlnet);
            let vocab = spm
                .pieces
                .iter()
                .map(|p| {
                    let s = f64::from(p.score);
                    let s = if lower && !keeps_score(&p.piece) {
                        s - 100.0
                    } else {
                        s
                    };
                    (p.piece.clone(), s)
                })
                .collect();
            Ok(Unigram::from(vocab, Some(spm.unk_id), spm.byte_fallback)
                .map_err(|e| e.to_string())?
                .into())
        }
        ModelType::Bpe => {
            let vocab: tokenizers::models::bpe::Vocab = spm
                .pieces
                .iter()
                .enumerate()
                .map(|(i, p)| (p.piece.clone(), i as u32))
                .collect();
            Ok(BPE::builder()
                .vocab_and_merges(vocab, bpe_merges(spm))
                .unk_token(spm.pieces[spm.unk_id].piece.clone())
                .fuse_unk(true)
                .byte_fallback(spm.byte_fallback)
                .build()
                .map_err(|e| e.to_string())?
                .into())
        }
    }
}

/// BPE merges of a SentencePiece BPE model: every split of a normal piece into two normal
/// pieces, ranked by the merged piece's score (highest first, then lower id), which is the order
/// SentencePiece's BPE applies them.
pub fn bpe_merges(spm: &SpmModel) -> Vec<(String, String)> {
    let normal: std::collections::HashMap<&str, usize> = spm
        .pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == PieceType::Normal)
        .map(|(i, p)| (p.piece.as_str(), i))
        .collect();
    let mut ranked: Vec<(f32, usize, String, String)> = Vec::new();
    for (i, p) in spm.pieces.iter().enumerate() {
        if p.kind != PieceType::Normal {
            continue;
        }
        for (k, _) in p.piece.char_indices().skip(1) {
            let (l, r) = p.piece.split_at(k);
            if normal.contains_key(l) && normal.contains_key(r) {
                ranked.push((-p.score, i, l.to_string(), r.to_string()));
            }
        }
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().map(|(_, _, l, r)| (l, r)).collect()
}

fn normalizer(
    spm: &SpmModel,
    flavor: SpmFlavor,
    o: &SpmOptions,
) -> Result<NormalizerWrapper, String> {
    let err = |e: tokenizers::Error| e.to_string();
    let regex = |pattern: &str, content: &str| -> Result<NormalizerWrapper, String> {
        Ok(Replace::new(ReplacePattern::Regex(pattern.into()), content)
            .map_err(err)?
            .into())
    };
    let precompiled = || -> Result<Option<NormalizerWrapper>, String> {
        if spm.precompiled_charsmap.is_empty() {
            return Ok(None);
        }
        let p = Precompiled::from(&spm.precompiled_charsmap)
            .map_err(|e| format!("bad precompiled_charsmap: {e}"))?;
        Ok(Some(p.into()))
    };
    let mut n: Vec<NormalizerWrapper> = Vec::new();
    match flavor {
        SpmFlavor::Albert | SpmFlavor::Xlnet => {
            // the slow tokenizers' preprocess_text; their `" ".join(text.split())` is the
            // WhitespaceSplit pre-tokenizer
            n.push(Replace::new("``", "\"").map_err(err)?.into());
            n.push(Replace::new("''", "\"").map_err(err)?.into());
            if !o.keep_accents {
                n.push(NFKD.into());
                n.push(StripAccents.into());
            }
            if o.do_lower_case {
                n.push(Lowercase.into());
            }
            n.extend(precompiled()?);
        }
        SpmFlavor::DebertaV2 => {
            if o.do_lower_case {
                n.push(Lowercase.into());
            }
            n.extend(precompiled()?);
            // SentencePiece's remove_extra_whitespaces: spaces (not tabs) after the charsmap
            n.push(regex("^ +| +$", "")?);
            n.push(regex(" {2,}", " ")?);
        }
    }
    Ok(Sequence::new(n).into())
}

fn pre_tokenizer(flavor: SpmFlavor, o: &SpmOptions) -> Result<PreTokenizerWrapper, String> {
    let meta = Metaspace::new('\u{2581}', PrependScheme::Always, true);
    Ok(match flavor {
        SpmFlavor::Albert | SpmFlavor::Xlnet => {
            PreSequence::new(vec![WhitespaceSplit.into(), meta.into()]).into()
        }
        // the slow tokenizer encodes each punctuation-split piece on its own, so a piece's
        // trailing space gives no `▁` of its own: split on spaces before Metaspace
        // (transformers' converter does not, and differs from the slow tokenizer there)
        SpmFlavor::DebertaV2 if o.split_by_punct => PreSequence::new(vec![
            Punctuation::new(SplitDelimiterBehavior::Isolated).into(),
            Split::new(" ", SplitDelimiterBehavior::Removed, false)
                .map_err(|e| e.to_string())?
                .into(),
            meta.into(),
        ])
        .into(),
        SpmFlavor::DebertaV2 => meta.into(),
    })
}

/// Build the tokenizer of a SentencePiece checkpoint directory from `model_file`
/// (`spm.model` / `spiece.model`).
pub fn spm_tokenizer(
    dir: &Path,
    model_file: &Path,
) -> Result<(Tokenizer, SpmFlavor), EncoderError> {
    let spm = SpmModel::from_file(model_file)?;
    let flavor = flavor_of(dir, model_file)?;
    let opts = SpmOptions::from_config(flavor, &read_json(&dir.join("tokenizer_config.json"))?);
    let tok = build(&spm, flavor, &opts).map_err(|m| EncoderError::input(model_file, m))?;
    Ok((tok, flavor))
}

/// The `tokenizers` pipeline of a decoded SentencePiece model for one architecture.
pub fn build(spm: &SpmModel, flavor: SpmFlavor, o: &SpmOptions) -> Result<Tokenizer, String> {
    let mut tok = Tokenizer::new(model(spm, flavor)?);
    tok.with_normalizer(Some(normalizer(spm, flavor, o)?))
        .map_err(|e| e.to_string())?;
    tok.with_pre_tokenizer(Some(pre_tokenizer(flavor, o)?));
    let added = |kind: PieceType, special: bool| -> Vec<AddedToken> {
        spm.pieces
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| AddedToken::from(p.piece.clone(), special).normalized(false))
            .collect()
    };
    tok.add_special_tokens(added(PieceType::Control, true))
        .map_err(|e| e.to_string())?;
    tok.add_tokens(added(PieceType::UserDefined, false))
        .map_err(|e| e.to_string())?;
    if spm.piece_id(&o.mask_token).is_none() {
        tok.add_special_tokens([AddedToken::from(o.mask_token.clone(), true).normalized(false)])
            .map_err(|e| e.to_string())?;
    }
    let id = |t: &str| {
        tok.token_to_id(t)
            .ok_or_else(|| format!("the SentencePiece vocabulary lacks the special token {t}"))
    };
    let (cls, sep) = (id(&o.cls_token)?, id(&o.sep_token)?);
    let (c, s) = (o.cls_token.as_str(), o.sep_token.as_str());
    let (single, pair) = match flavor {
        SpmFlavor::Xlnet => (
            format!("$A:0 {s}:0 {c}:2"),
            format!("$A:0 {s}:0 $B:1 {s}:1 {c}:2"),
        ),
        SpmFlavor::Albert | SpmFlavor::DebertaV2 => (
            format!("{c}:0 $A:0 {s}:0"),
            format!("{c}:0 $A:0 {s}:0 $B:1 {s}:1"),
        ),
    };
    let post = TemplateProcessing::builder()
        .try_single(single.as_str())
        .and_then(|b| b.try_pair(pair.as_str()))
        .map_err(|e| format!("bad special-token template: {e}"))?
        .special_tokens(vec![(c, cls), (s, sep)])
        .build()
        .map_err(|e| format!("bad special-token template: {e}"))?;
    tok.with_post_processor(Some(post));
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_comma_pieces_are_the_ones_transformers_lowers() {
        assert!(keeps_score(","));
        assert!(keeps_score("\u{2581}a,"));
        assert!(!keeps_score("\u{2581}1,"));
        assert!(!keeps_score("000,"));
        assert!(keeps_score("1,0"));
    }
}
