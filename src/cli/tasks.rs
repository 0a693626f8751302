//! `probecast tasks build` / `probecast tasks list`: SentEval probing tasks from treebanks.

use super::CliError;
use crate::data::tasks::{self, source, BuildSettings, Task, WriteSettings};
use crate::util;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `probecast tasks`.
#[derive(Debug, clap::Args)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub command: TasksCommand,
}

/// `tasks` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// Build SentEval-format probing tasks from treebanks.
    Build(BuildArgs),
    /// List the tasks, their label rules and which sources support them.
    List,
}

/// Arguments of `probecast tasks build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Treebank: a file, a directory or a .zip (CoNLL-U, Penn Treebank / SST bracketed trees,
    /// word/tag corpora); repeat for several.
    #[arg(long, required = true)]
    pub treebank: Vec<PathBuf>,
    /// Output directory (task files, report.csv, manifest.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Tasks, comma-separated (default: every task the source supports; a task named here
    /// that the source cannot support is an error).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Option<Vec<String>>,
    /// Examples per class, tr + va + te (default: as many as every class has, at most 1000).
    #[arg(long)]
    pub per_class: Option<usize>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shortest sentence used, in tokens.
    #[arg(long, default_value_t = 5)]
    pub min_words: usize,
    /// Longest sentence used, in tokens.
    #[arg(long, default_value_t = 28)]
    pub max_words: usize,
    /// Target words (classes) of word_content.
    #[arg(long, default_value_t = 20)]
    pub word_content_words: usize,
    /// Most frequent words skipped before word_content's targets.
    #[arg(long, default_value_t = 100)]
    pub word_content_skip: usize,
    /// Replace an output directory that holds a different run.
    #[arg(long)]
    pub force: bool,
}

/// Run the command.
pub fn run(args: TasksArgs, argv: &[String]) -> Result<(), CliError> {
    match args.command {
        TasksCommand::List => {
            print!("{}", list_text());
            Ok(())
        }
        TasksCommand::Build(a) => build(a, argv),
    }
}

/// The text of `probecast tasks list`.
pub fn list_text() -> String {
    let mut s = String::new();
    for t in Task::ALL {
        s.push_str(&format!(
            "{}\n  needs: {}\n  rule: {}\n\n",
            t,
            t.needs_text(),
            t.rule()
        ));
    }
    s.push_str(
        "sources: CoNLL-U (all but tree_depth, top_constituents); Penn Treebank trees (all 10); \
         SST trees (sentence_length, word_content, bigram_shift, tree_depth); word/tag corpora \
         such as Brown (sentence_length, word_content, bigram_shift, odd_man_out)\n",
    );
    s
}

fn build(a: BuildArgs, argv: &[String]) -> Result<(), CliError> {
    let task_list = match &a.tasks {
        Some(names) => Some(tasks::parse_tasks(names)?),
        None => None,
    };
    let opts = BuildSettings {
        tasks: task_list,
        per_class: a.per_class,
        seed: a.seed,
        min_words: a.min_words,
        max_words: a.max_words,
        word_content_words: a.word_content_words,
        word_content_skip: a.word_content_skip,
    };
    // Progress notes are printed only once everything succeeded, so a failure is one line.
    let mut notes = Vec::new();
    let mut sentences = Vec::new();
    let mut inputs = Vec::new();
    for tb in &a.treebank {
        let loaded = source::load(tb)?;
        let hash = if tb.is_file() {
            util::sha256_file(tb).ok()
        } else {
            None
        };
        notes.push(format!(
            "{}: {} sentences from {} file(s){}",
            tb.display(),
            loaded.sentences.len(),
            loaded.files.len(),
            if loaded.ignored > 0 {
                format!(" ({} other files ignored)", loaded.ignored)
            } else {
                String::new()
            }
        ));
        let formats: Vec<&str> = {
            let mut f: Vec<&str> = loaded.files.iter().map(|f| f.1.as_str()).collect();
            f.sort();
            f.dedup();
            f
        };
        inputs.push(json!({
            "path": tb.display().to_string(),
            "sha256": hash,
            "formats": formats,
            "files": loaded.files.len(),
            "sentences": loaded.sentences.len(),
        }));
        sentences.extend(loaded.sentences);
    }
    let suite = tasks::build(&sentences, &opts)?;
    for (t, why) in &suite.skipped {
        notes.push(format!("skipped {t}: {why}"));
    }
    if suite.tasks.is_empty() {
        return Err(CliError("no task could be built from the input".into()));
    }
    let manifest_inputs = a
        .treebank
        .iter()
        .zip(&inputs)
        .map(|(tb, i)| crate::manifest::Input {
            role: "treebank".into(),
            path: tb.display().to_string(),
            sha256: i["sha256"].as_str().map(str::to_string),
        })
        .collect();
    tasks::write_suite_with(
        &a.out,
        &suite,
        &WriteSettings {
            force: a.force,
            command_line: argv.to_vec(),
            inputs: manifest_inputs,
            input_details: json!(inputs),
        },
    )?;
    for n in notes {
        eprintln!("{n}");
    }
    for t in &suite.tasks {
        println!(
            "{}: {} classes x {} per class = {} examples ({} candidate sentences)",
            t.task,
            t.classes.len(),
            t.per_class,
            t.examples.len(),
            t.candidates
        );
    }
    eprintln!(
        "wrote {} task(s), report.csv and manifest.json to {} ({} of {} sentences used after the length filter and deduplication)",
        suite.tasks.len(),
        a.out.display(),
        suite.sentences_used,
        suite.sentences_in
    );
    Ok(())
}
