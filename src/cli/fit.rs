//! `probecast fit`: fit a predictor from probing features to fine-tuning scores and validate it.
use super::CliError;
use crate::predict::cv::CvScheme;
use crate::predict::model::Method;
use crate::predict::pipeline::{FitSettings, Protocol};
use crate::predict::report;
use crate::predict::run::{compile_regex, fit_to_dir};
use crate::predict::table::TableSettings;
use std::path::PathBuf;

/// Arguments of `probecast fit` (boxed so the command enum stays small).
#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// The options.
    #[command(flatten)]
    pub opts: Box<FitFlags>,
}

/// Options of `probecast fit`.
#[derive(Debug, clap::Args)]
pub struct FitFlags {
    /// Features table (CSV, one row per checkpoint); may also hold the target columns.
    #[arg(long)]
    pub data: PathBuf,
    /// Target columns, comma-separated (default with --targets-file: all its columns).
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Targets in a second CSV, joined on the id column.
    #[arg(long)]
    pub targets_file: Option<PathBuf>,
    /// Name of the id column.
    #[arg(long, default_value = "model")]
    pub id_column: String,
    /// Family (group) column; default: a column named `family` if present.
    #[arg(long, conflicts_with = "family_regex")]
    pub family_column: Option<String>,
    /// Family = first capture group of this regex applied to the id, e.g. '^(.*?)(_corr_\d+)?$'.
    #[arg(long)]
    pub family_regex: Option<String>,
    /// Column that groups the rows for --cv group when that is not the family (e.g. the
    /// variant operation: leave one operation out); the family still gives the family-mean
    /// baseline.
    #[arg(long)]
    pub group_column: Option<String>,
    /// Only columns whose name matches this regex are features (default: every other column).
    #[arg(long)]
    pub features: Option<String>,
    /// `honest` (nested CV with baselines, default) or `paper` (the seed paper, in-sample).
    #[arg(long, default_value = "honest", value_parser = ["honest", "paper"])]
    pub protocol: String,
    /// Method: ridge (default), ols-subset, enet, mean.
    #[arg(long, default_value = "ridge")]
    pub method: String,
    /// Subset size for ols-subset and the paper protocol.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    /// Elastic-net mix (1 = lasso).
    #[arg(long, default_value_t = 0.5)]
    pub l1_ratio: f64,
    /// Cross-validation: loo, kfold:K[:REPEATS] (default 5 repeats), group (leave one family out).
    #[arg(long, default_value = "loo")]
    pub cv: String,
    /// Nominal coverage of the prediction intervals.
    #[arg(long, default_value_t = 0.9)]
    pub coverage: f64,
    /// Target permutations for the p-value (0 to skip).
    #[arg(long, default_value_t = 200)]
    pub permutations: usize,
    /// Noise draws (default 100 for paper: random-column baseline; 10 for honest: noise control).
    #[arg(long)]
    pub noise_draws: Option<usize>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fill missing feature cells with the training-fold mean (`mean`); default: refuse them.
    #[arg(long, value_parser = ["mean"])]
    pub impute: Option<String>,
    /// Print the summary as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Output directory for predictor.json, cv_predictions.csv, summary.csv, manifest.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn regex(opt: &Option<String>, flag: &str) -> Result<Option<regex::Regex>, CliError> {
    opt.as_deref()
        .map(|r| compile_regex(flag, r).map_err(CliError))
        .transpose()
}

/// Run the command.
pub fn run(args: FitArgs, argv: &[String]) -> Result<(), CliError> {
    let args = *args.opts;
    let opts = TableSettings {
        id_column: args.id_column.clone(),
        targets: args.targets.clone(),
        targets_file: args.targets_file.clone(),
        family_column: args.family_column.clone(),
        family_regex: regex(&args.family_regex, "--family-regex")?,
        group_column: args.group_column.clone(),
        features: regex(&args.features, "--features")?,
        impute_mean: args.impute.is_some(),
    };
    let protocol = Protocol::parse(&args.protocol).expect("clap checks the value");
    let cfg = FitSettings {
        protocol,
        method: Method::parse(&args.method, args.k, args.l1_ratio)?,
        k: args.k,
        cv: CvScheme::parse(&args.cv)?,
        coverage: args.coverage,
        permutations: args.permutations,
        noise_draws: args.noise_draws.unwrap_or(protocol.default_noise_draws()),
        seed: args.seed,
    };
    let r = fit_to_dir(&args.data, &opts, &cfg, args.out.as_deref(), argv)?;
    let (ds, outcome, summary) = (&r.ds, &r.outcome, &r.summary);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", report::table_text(ds, &cfg, outcome));
        if let Some(out) = &args.out {
            println!(
                "wrote {}/{{predictor.json,cv_predictions.csv,summary.csv,manifest.json}}",
                out.display()
            );
        }
    }
    if let Some(out) = &args.out {
        let html = out.join("report.html");
        crate::report::run(std::slice::from_ref(out), &html, None, argv)?;
        if args.json {
            eprintln!("report: {}", html.display());
        } else {
            println!("report: {}", html.display());
        }
    }
    Ok(())
}
