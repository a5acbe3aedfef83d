//! `claimcheck`: parses the command line and runs the subcommand; every failure becomes one
//! line on stderr and an exit code (see `CliError::exit_code`).

use std::process::ExitCode;

use claimcheck_cli::CliError;
use claimcheck_cli::commands::{self, Command, Context};
use claimcheck_cli::config::Endpoints;
use claimcheck_cli::output::Output;
use clap::Parser;

/// Payloads of any size through SQS: upload and download through the claimcheck API, send and
/// receive large messages in the SQS extended-client format, and operate the pipeline.
#[derive(Debug, Parser)]
#[command(name = "claimcheck", version)]
struct Cli {
    #[command(flatten)]
    endpoints: Endpoints,
    /// Print JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("claimcheck: error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the cause's own text looks like (the SDK's credential-chain
            // report runs over several).
            let text = e.to_string();
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("claimcheck: error: {}", line.join("; "));
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's answer to bad arguments as one line (`claimcheck: error: ...`, exit 2), like every
/// other error; help and version requests print as clap prints them.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
    }
    // clap's message is its first paragraph (the lines before the blank line, tip and usage).
    let text = error.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("claimcheck: error: {message} (see --help)");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let cx = Context {
        endpoints: cli.endpoints.resolve()?,
        out: Output {
            json: cli.json,
            quiet: cli.quiet,
        },
        http: reqwest::Client::new(),
    };
    commands::run(cli.command, &cx).await
}
