//! Load generator for the ocop-live WebSocket server.
//!
//! Each scenario is a subcommand; they share the protocol client in
//! [`client`], the `/proc` readers in [`procfs`] and the server launcher in
//! [`server`].

mod client;
mod procfs;
mod scenario;
mod server;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about = "Load generator for the ocop-live WebSocket server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hold N idle subscribed connections and measure the server's resident
    /// memory per connection.
    Idle(scenario::idle::IdleArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Idle(args) => scenario::idle::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}
