//! probecast command-line entry point: parse, run, map errors to exit codes.
fn main() {
    probecast::util::runtime_defaults();
    std::process::exit(probecast::cli::main());
}
