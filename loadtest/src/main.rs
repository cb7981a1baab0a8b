//! Load generator for the ocop-live WebSocket server.
//!
//! Each scenario is a subcommand; they share the protocol client in
//! [`client`], the REST calls in [`http`], the `/proc` readers in [`procfs`],
//! the server launcher in [`server`] and the set-up steps in [`scenario`].

mod chart;
mod client;
mod http;
mod procfs;
mod redis_stats;
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
    /// N viewers of one show; one publisher sends chat at a fixed rate; measure
    /// per-delivery latency, losses and server CPU per delivery.
    Fanout(scenario::fanout::FanoutArgs),
    /// N buyers order from one flash offer at once; measure acknowledgements
    /// and check that nothing is oversold, lost or duplicated.
    FlashSale(scenario::flash_sale::FlashSaleArgs),
    /// N viewers join one show as fast as allowed while it broadcasts; measure
    /// joins per second and join-to-snapshot latency.
    JoinStorm(scenario::join_storm::JoinStormArgs),
    /// All viewers drop and reconnect with jittered backoff while events are
    /// published; check that each recovers every missed event.
    ReconnectStorm(scenario::reconnect_storm::ReconnectStormArgs),
    /// A fair's lobby: N visitors join `fair:<id>` (spread over the nodes) while booth chats
    /// and stage shows run; measure the join rate and how long every node takes to show the
    /// right visitor count, after the joins and after half of them leave.
    Fair(scenario::fair::FairArgs),
    /// One process of a multi-process `idle` run (started by `idle --processes K`): opens its
    /// share of the connections, reports on stdout, and closes them when told on stdin.
    #[command(hide = true)]
    IdleWorker(scenario::idle::WorkerArgs),
    /// Print the Lua script the server's Redis engine runs to place an order
    /// from an offer (KEYS: offer, idempotency, bought, order, log, index,
    /// stats), for running it directly, e.g. with `redis-benchmark`.
    OrderScript,
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
            Command::IdleWorker(args) => scenario::idle::worker(args).await,
            Command::Fanout(args) => scenario::fanout::run(args).await,
            Command::Fair(args) => scenario::fair::run(args).await,
            Command::FlashSale(args) => scenario::flash_sale::run(args).await,
            Command::JoinStorm(args) => scenario::join_storm::run(args).await,
            Command::ReconnectStorm(args) => scenario::reconnect_storm::run(args).await,
            Command::OrderScript => Ok(print_order_script()),
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

/// Writes the server's offer-order Lua to stdout.
fn print_order_script() -> ExitCode {
    use std::io::Write;
    let lua = ocop_live::engine::sales_redis::place_offer_lua();
    let mut out = std::io::stdout().lock();
    match out.write_all(lua.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: cannot write the script: {e}");
            ExitCode::FAILURE
        }
    }
}
