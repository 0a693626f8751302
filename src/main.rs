//! probecast command-line entry point: parse, run, map errors to exit codes.
fn main() {
    std::process::exit(probecast::cli::main());
}
