//! probecast command-line entry point: parse, run, map errors to exit codes.
fn main() {
    probecast::util::default_candle_threads();
    std::process::exit(probecast::cli::main());
}
